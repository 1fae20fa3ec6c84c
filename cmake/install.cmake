# install.cmake — what `cmake --install` puts where (and so what the .deb packages hold, package.cmake).
#
# Two components:
#   runtime  the binary, every plugin of build/plugins, the installed config (<sysconfdir>/infergate),
#            the systemd unit, the console (ui/, once the tree has one), the README
#   dev      the plugin ABI headers (core/include/infergate/*.h: a third-party plugin needs nothing
#            else) and infergate-plugin.pc (-I<includedir>, plugindir, abi_version)
# Paths follow GNUInstallDirs. With CMAKE_INSTALL_PREFIX=/usr on Debian that is /usr/bin/infergate,
# /usr/lib/<multiarch>/infergate/plugins, /etc/infergate/infergate.yaml and /var/lib/infergate; with
# the default /usr/local, the same under /usr/local (etc and var included).
include(GNUInstallDirs)

# The version is server.h's IG_VERSION (what `infergate -v` prints and /admin/gateway shows); the ABI
# version is the header's.
file(STRINGS ${PROJECT_SOURCE_DIR}/core/server/server.h IG_VERSION_LINE REGEX "^#define IG_VERSION \"[^\"]+\"")
string(REGEX REPLACE ".*\"([^\"]+)\".*" "\\1" IG_VERSION "${IG_VERSION_LINE}")
file(STRINGS ${PROJECT_SOURCE_DIR}/core/include/infergate/plugin.h IG_ABI_LINE
     REGEX "^#define IG_PLUGIN_ABI_VERSION [0-9]+")
string(REGEX REPLACE ".* ([0-9]+)$" "\\1" IG_PLUGIN_ABI_VERSION "${IG_ABI_LINE}")
if(NOT IG_VERSION MATCHES "^[0-9]" OR NOT IG_PLUGIN_ABI_VERSION MATCHES "^[0-9]+$")
  message(FATAL_ERROR "install.cmake: cannot read IG_VERSION from core/server/server.h or IG_PLUGIN_ABI_VERSION from plugin.h")
endif()

set(IG_INSTALL_PLUGINDIR "${CMAKE_INSTALL_LIBDIR}/infergate/plugins")
set(IG_INSTALL_FULL_PLUGINDIR "${CMAKE_INSTALL_FULL_LIBDIR}/infergate/plugins")
set(IG_INSTALL_FULL_CONFDIR "${CMAKE_INSTALL_FULL_SYSCONFDIR}/infergate")
set(IG_INSTALL_FULL_CONFIG "${IG_INSTALL_FULL_CONFDIR}/infergate.yaml")
set(IG_INSTALL_FULL_STATEDIR "${CMAKE_INSTALL_FULL_LOCALSTATEDIR}/lib/infergate")
set(IG_INSTALL_FULL_BINARY "${CMAKE_INSTALL_FULL_BINDIR}/infergate")

# systemd's own folder for package units when installing into /usr (Debian 12: /lib/systemd/system),
# <prefix>/lib/systemd/system otherwise (systemd also reads /usr/local/lib/systemd/system).
if(NOT DEFINED IG_SYSTEMD_UNIT_DIR)
  set(_unitdir "")
  if(CMAKE_INSTALL_PREFIX MATCHES "^/usr/?$")
    find_package(PkgConfig QUIET)
    if(PKG_CONFIG_FOUND)
      pkg_get_variable(_unitdir systemd systemdsystemunitdir)
    endif()
    if(NOT _unitdir)
      set(_unitdir "/lib/systemd/system")
    endif()
  else()
    set(_unitdir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
  endif()
  set(IG_SYSTEMD_UNIT_DIR "${_unitdir}" CACHE PATH "where the systemd unit is installed")
endif()

# An install destination for a full path: relative when it lies under the prefix, so that
# `cmake --install --prefix` and DESTDIR move it with everything else; absolute only for what
# GNUInstallDirs puts outside the prefix (/etc and /lib/systemd/system with prefix /usr). The paths
# written into the config, the unit and the .pc file are the configured prefix's either way.
function(ig_install_dest full out)
  string(REGEX REPLACE "/$" "" prefix "${CMAKE_INSTALL_PREFIX}")
  string(LENGTH "${prefix}/" n)
  string(SUBSTRING "${full}/" 0 ${n} head)
  if(head STREQUAL "${prefix}/")
    string(SUBSTRING "${full}" ${n} -1 rel)
    set(${out} "${rel}" PARENT_SCOPE)
  else()
    set(${out} "${full}" PARENT_SCOPE)
  endif()
endfunction()
ig_install_dest("${IG_INSTALL_FULL_CONFDIR}" IG_INSTALL_CONFDIR_DEST)
ig_install_dest("${IG_SYSTEMD_UNIT_DIR}" IG_SYSTEMD_UNIT_DEST)

# ---- runtime ----------------------------------------------------------------------------------
install(TARGETS infergate RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)

# The plugins are the MODULE targets that land in build/plugins (ig_add_plugin): exactly the dev
# tree's plugin folder, without the test plugins. They link only system libraries, so they need no
# RUNPATH (CMake drops the build tree's at install), and export only infergate_plugin.
function(ig_collect_plugins dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  set(found "")
  foreach(t IN LISTS targets)
    get_target_property(type ${t} TYPE)
    get_target_property(outdir ${t} LIBRARY_OUTPUT_DIRECTORY)
    if(type STREQUAL "MODULE_LIBRARY" AND outdir STREQUAL IG_PLUGIN_OUTPUT_DIR)
      list(APPEND found ${t})
    endif()
  endforeach()
  foreach(sub IN LISTS subdirs)
    ig_collect_plugins(${sub} sub_found)
    list(APPEND found ${sub_found})
  endforeach()
  set(${out} ${found} PARENT_SCOPE)
endfunction()
ig_collect_plugins(${PROJECT_SOURCE_DIR}/plugins IG_PLUGIN_TARGETS)
if(NOT IG_PLUGIN_TARGETS)
  message(FATAL_ERROR "install.cmake: no plugin targets found under plugins/")
endif()
install(TARGETS ${IG_PLUGIN_TARGETS} LIBRARY DESTINATION ${IG_INSTALL_PLUGINDIR} COMPONENT runtime)

# The installed config: the plugin folder and state folder of this installation, absolute paths.
configure_file(${PROJECT_SOURCE_DIR}/packaging/infergate.yaml.in ${PROJECT_BINARY_DIR}/packaging/infergate.yaml @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/packaging/infergate.yaml DESTINATION ${IG_INSTALL_CONFDIR_DEST} COMPONENT runtime)

# systemd makes /var/lib/<name> itself (StateDirectory=), owned by the unit's user; a state folder
# elsewhere (another prefix) is the admin's to make.
if(IG_INSTALL_FULL_STATEDIR STREQUAL "/var/lib/infergate")
  set(IG_UNIT_STATEDIRECTORY "StateDirectory=infergate\nStateDirectoryMode=0750")
else()
  set(IG_UNIT_STATEDIRECTORY "# ${IG_INSTALL_FULL_STATEDIR} is not under /var/lib: make it, owned by infergate, mode 0750")
endif()
configure_file(${PROJECT_SOURCE_DIR}/packaging/infergate.service.in ${PROJECT_BINARY_DIR}/packaging/infergate.service @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/packaging/infergate.service DESTINATION ${IG_SYSTEMD_UNIT_DEST} COMPONENT runtime)

install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)

# The operator console and customer portal (issue 17): served from <datadir>/infergate/ui. What is
# installed is the build's copy (the `ui` target, scripts/copy-ui.cmake: console/, portal/, assets/
# and vendor/ with the npm files ui/vendor.txt lists), never ui/ itself (its node_modules, package
# files and README are not served).
if(EXISTS ${PROJECT_SOURCE_DIR}/ui AND IS_DIRECTORY ${PROJECT_SOURCE_DIR}/ui)
  install(DIRECTORY ${PROJECT_BINARY_DIR}/ui/ DESTINATION ${CMAKE_INSTALL_DATADIR}/infergate/ui COMPONENT runtime)
endif()

# ---- dev --------------------------------------------------------------------------------------
file(GLOB IG_ABI_HEADERS ${PROJECT_SOURCE_DIR}/core/include/infergate/*.h)
install(FILES ${IG_ABI_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/infergate COMPONENT dev)

# infergate-plugin.pc: paths relative to ${prefix}, so `--define-variable=prefix=...` relocates them.
foreach(v INCLUDEDIR LIBDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${v}}")
    set(IG_PC_${v} "${CMAKE_INSTALL_${v}}")
  else()
    set(IG_PC_${v} "\${prefix}/${CMAKE_INSTALL_${v}}")
  endif()
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/packaging/infergate-plugin.pc.in ${PROJECT_BINARY_DIR}/packaging/infergate-plugin.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/packaging/infergate-plugin.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
install(FILES ${PROJECT_SOURCE_DIR}/docs/plugins.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/infergate-dev COMPONENT dev)
