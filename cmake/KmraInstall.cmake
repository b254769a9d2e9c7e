# Install layout (`cmake --install`, and the Debian packages of debian/, which install with prefix /usr):
#   bin/kmra                                    the CLI and key server
#   LIBDIR/pkcs11/libkmra-pkcs11.so             the token module, in the multiarch PKCS#11 directory
#   share/p11-kit/modules/kmra.module           its p11-kit registration (read from /usr/share only)
#   /etc/kmra/token.conf                        the token's default configuration (SYSCONFDIR)
#   KMRA_SYSTEMD_UNIT_DIR/                      kmra-server, kmra-loadkey@ (+ timer), kmra-p11-kit
#   share/doc/openkmra/examples/                configuration examples (deploy/)
include(GNUInstallDirs)

set(KMRA_SYSTEMD_UNIT_DIR "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" CACHE PATH
    "Where `cmake --install` puts the systemd units (Debian 12 packages: /lib/systemd/system)")
set(KMRA_PKCS11_DIR "${CMAKE_INSTALL_LIBDIR}/pkcs11")
set(KMRA_EXAMPLES_DIR "${CMAKE_INSTALL_DATADIR}/doc/openkmra/examples")

# The units name the installed programs by absolute path.
set(KMRA_INSTALLED_BIN "${CMAKE_INSTALL_FULL_BINDIR}/kmra")
set(KMRA_INSTALLED_MODULE "${CMAKE_INSTALL_FULL_LIBDIR}/pkcs11/libkmra-pkcs11.so")
foreach(unit kmra-server.service kmra-loadkey@.service kmra-loadkey@.timer kmra-p11-kit.service)
  configure_file(${PROJECT_SOURCE_DIR}/deploy/systemd/${unit}.in
                 ${PROJECT_BINARY_DIR}/systemd/${unit} @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/systemd/${unit} DESTINATION ${KMRA_SYSTEMD_UNIT_DIR})
endforeach()

if(TARGET kmra)
  install(TARGETS kmra RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
if(TARGET kmra-pkcs11)
  install(TARGETS kmra-pkcs11 LIBRARY DESTINATION ${KMRA_PKCS11_DIR})
  install(FILES ${PROJECT_SOURCE_DIR}/include/kmra/pkcs11_vendor.h
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/kmra)
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/kmra.module
          DESTINATION ${CMAKE_INSTALL_DATADIR}/p11-kit/modules)
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/token.conf
          DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/kmra)
endif()

install(FILES ${PROJECT_SOURCE_DIR}/deploy/kmra-server.toml DESTINATION ${KMRA_EXAMPLES_DIR})
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/kmra-server.toml
              ${PROJECT_SOURCE_DIR}/deploy/systemd/softhsm2.conf
              ${PROJECT_SOURCE_DIR}/deploy/systemd/loadkey-web.toml
              ${PROJECT_SOURCE_DIR}/deploy/systemd/README.md
        DESTINATION ${KMRA_EXAMPLES_DIR}/systemd)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/deploy/nginx DESTINATION ${KMRA_EXAMPLES_DIR})
install(FILES ${PROJECT_SOURCE_DIR}/packaging/kmra.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
