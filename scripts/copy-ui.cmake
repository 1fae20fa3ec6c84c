# copy-ui.cmake — the build's copy of the console and portal: ui/ into ${DST} (build/ui), which
# server.ui.dir points at by default. Run by the `ui` target on every build (cmake -P):
#
#   cmake -DSRC=<repo>/ui -DDST=<build>/ui -P scripts/copy-ui.cmake
#
# - ui/console, ui/portal and ui/assets are copied as they are (nothing else of ui/: not its
#   package.json, node_modules or tests);
# - every line of ui/vendor.txt names a file of an npm package the UI uses, as
#   node_modules/<package>/<path>; it is copied to ${DST}/vendor/<package>/<path> (served as
#   /ui/vendor/<package>/<path>). `scripts/setup.sh` runs `npm ci` in ui/ to get them; nothing
#   third-party is committed. Blank lines and lines starting with # are skipped.
# Without ui/ there is nothing to copy, and the gateway answers /ui/ with a 404 naming server.ui.dir.
if(NOT DEFINED SRC OR NOT DEFINED DST)
  message(FATAL_ERROR "copy-ui.cmake: set SRC (the ui/ folder) and DST (where to copy it)")
endif()
if(NOT IS_DIRECTORY "${SRC}")
  return()
endif()
# a fresh copy each time: a file removed from ui/ does not linger in the build
file(REMOVE_RECURSE "${DST}")
file(MAKE_DIRECTORY "${DST}")
foreach(part console portal assets)
  if(IS_DIRECTORY "${SRC}/${part}")
    file(COPY "${SRC}/${part}" DESTINATION "${DST}")
  endif()
endforeach()
if(EXISTS "${SRC}/vendor.txt")
  file(STRINGS "${SRC}/vendor.txt" lines)
  foreach(line IN LISTS lines)
    string(STRIP "${line}" line)
    if(line STREQUAL "" OR line MATCHES "^#")
      continue()
    endif()
    if(NOT line MATCHES "^node_modules/([^/]+|@[^/]+/[^/]+)/(.+)$" OR line MATCHES "(^|/)\\.\\.(/|$)")
      message(FATAL_ERROR "ui/vendor.txt: \"${line}\" is not node_modules/<package>/<path>")
    endif()
    set(from "${SRC}/${line}")
    if(NOT EXISTS "${from}")
      message(FATAL_ERROR "ui/vendor.txt lists ${line}, which is missing: run scripts/setup.sh (npm ci in ui/)")
    endif()
    string(REGEX REPLACE "^node_modules/" "" rel "${line}")
    get_filename_component(dir "${DST}/vendor/${rel}" DIRECTORY)
    file(MAKE_DIRECTORY "${dir}")
    file(COPY "${from}" DESTINATION "${dir}")
  endforeach()
endif()
