# package.cmake — the Debian packages, made by CPack from the install rules (install.cmake):
#   infergate      the binary, plugins, /etc/infergate/infergate.yaml (a conffile), the systemd
#                  unit; its maintainer scripts add the system user infergate and /var/lib/infergate
#   infergate-dev  the plugin ABI headers and infergate-plugin.pc
# Build them with scripts/package.sh (a Release build with CMAKE_INSTALL_PREFIX=/usr, then cpack).
# Depends: lines come from dpkg-shlibdeps over the ELF files (dpkg-dev and file must be installed).

if(NOT CMAKE_INSTALL_PREFIX MATCHES "^/usr/?$")
  message(STATUS "package.cmake: CMAKE_INSTALL_PREFIX is ${CMAKE_INSTALL_PREFIX}; Debian packages want /usr "
                 "(scripts/package.sh configures so)")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME infergate)
set(CPACK_PACKAGE_VERSION ${IG_VERSION})
set(CPACK_PACKAGE_VENDOR "infergate")
set(IG_PACKAGE_MAINTAINER "infergate developers <infergate@localhost>" CACHE STRING "the packages' Maintainer field")
set(CPACK_PACKAGE_CONTACT "${IG_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${IG_PACKAGE_MAINTAINER}")
# The paths baked into the config, the unit and the .pc file are the configured prefix's.
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_STRIP_FILES ON)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(IG_DEB_VERSION "${IG_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}")

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME infergate)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION net)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SUGGESTS "redis-server, infergate-dev")
# Each component's first line is its package's synopsis (no CPACK_PACKAGE_DESCRIPTION_SUMMARY, which
# CPack would put in front of both).
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
    "OpenAI-compatible inference gateway and model scheduler
One binary in front of self-hosted engines (vLLM, Ollama, Infinity,
faster-whisper): API keys, rate limits, usage billing, health-checked load
balancing, engine replicas run on demand. Configured by
${IG_INSTALL_FULL_CONFIG}, extended by .so plugins,
reloaded with systemctl reload infergate.")
set(IG_DEB_DIR ${PROJECT_BINARY_DIR}/packaging/deb)
foreach(f postinst postrm conffiles)
  configure_file(${PROJECT_SOURCE_DIR}/packaging/deb/${f}.in ${IG_DEB_DIR}/${f} @ONLY)
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/packaging/deb/prerm ${IG_DEB_DIR}/prerm COPYONLY)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA
    ${IG_DEB_DIR}/postinst ${IG_DEB_DIR}/prerm ${IG_DEB_DIR}/postrm ${IG_DEB_DIR}/conffiles)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME infergate-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "pkg-config | pkgconf")
set(CPACK_DEBIAN_DEV_PACKAGE_SUGGESTS "infergate (= ${IG_DEB_VERSION})")
set(CPACK_COMPONENT_DEV_DESCRIPTION
    "infergate plugin development files
The plugin ABI headers (infergate/plugin.h, infergate/json.h) and
infergate-plugin.pc: a third-party engine, strategy, auth, rate-limit or
billing plugin builds with
  cc $(pkg-config --cflags infergate-plugin) -shared -fPIC
and is dropped into $(pkg-config --variable=plugindir infergate-plugin).")

include(CPack)
