# kmra_add_library(NAME kmra_x SOURCES ... DEPS ...): one static library per component.
function(kmra_add_library)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_library(${ARG_NAME} STATIC ${ARG_SOURCES})
  target_include_directories(${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(${ARG_NAME} PUBLIC ${ARG_DEPS})
endfunction()

# kmra_add_test(NAME x_test SOURCES ... DEPS ...): a GoogleTest binary registered with ctest.
# Tests find the test data (tests/data, inside the repository) through KMRA_TEST_DATA and the source tree through
# KMRA_SOURCE_DIR, and the built kmra binary through KMRA_BIN (empty when cli is not built).
function(kmra_add_test)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS;LABELS" ${ARGN})
  # tests/no_skip.cc: under KMRA_NO_SKIP=1 (scripts/test) a skipped test fails.
  add_executable(${ARG_NAME} ${ARG_SOURCES} ${PROJECT_SOURCE_DIR}/tests/no_skip.cc)
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest_main GTest::gmock)
  target_compile_definitions(${ARG_NAME} PRIVATE
    KMRA_TEST_DATA="${PROJECT_SOURCE_DIR}/tests/data"
    KMRA_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    KMRA_BINARY_DIR="${PROJECT_BINARY_DIR}")
  if(TARGET kmra)
    add_dependencies(${ARG_NAME} kmra)
  endif()
  gtest_discover_tests(${ARG_NAME} DISCOVERY_TIMEOUT 60
    PROPERTIES ENVIRONMENT "KMRA_BIN=${PROJECT_BINARY_DIR}/src/cli/kmra" LABELS "${ARG_LABELS}")
endfunction()
