// Linked into every test binary (cmake/KmraTargets.cmake): with KMRA_NO_SKIP=1 in the environment
// (scripts/test sets it, having installed everything the tests need), a skipped test fails, so a
// missing tool or a broken setup cannot turn into a green run. docs/building.md lists every skip.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

namespace {

class SkipIsFailure : public ::testing::EmptyTestEventListener {
  // OnTestEnd reaches listeners in reverse order, so this runs before the default printer, which
  // then reports the test as failed (and ctest sees a failure, not a skip).
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (info.result() != nullptr && info.result()->Skipped()) {
      ADD_FAILURE() << "KMRA_NO_SKIP=1: " << info.test_suite_name() << "." << info.name()
                    << " was skipped; under scripts/test every test must run (see the skip "
                       "message above and docs/building.md \"Skipped tests\")";
    }
  }
};

const bool kRegistered = [] {
  const char* no_skip = std::getenv("KMRA_NO_SKIP");
  if (no_skip != nullptr && std::strcmp(no_skip, "1") == 0) {
    ::testing::UnitTest::GetInstance()->listeners().Append(new SkipIsFailure);
  }
  return true;
}();

}  // namespace
