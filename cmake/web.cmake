# The dashboard (web/): `npm ci` and `vite build` in a copy of web/ inside the build tree, then
# cmake/embed_assets.cmake turns dist/ into a C++ source compiled into sluice_server.
# npm ci runs again only when package.json or package-lock.json change; vite build only when a
# file of the app changes. -DSLUICE_BUILD_WEB=OFF embeds a placeholder page instead (no Node.js).

set(SLUICE_WEB_SRC "${PROJECT_SOURCE_DIR}/web")
set(SLUICE_WEB_WORK "${PROJECT_BINARY_DIR}/web")
set(SLUICE_WEB_CC "${PROJECT_BINARY_DIR}/generated/embedded_assets.cc")
set(SLUICE_EMBED_SCRIPT "${PROJECT_SOURCE_DIR}/cmake/embed_assets.cmake")

if(NOT SLUICE_BUILD_WEB)
  add_custom_command(
    OUTPUT "${SLUICE_WEB_CC}"
    COMMAND "${CMAKE_COMMAND}" -DPLACEHOLDER=ON "-DOUT=${SLUICE_WEB_CC}" -P "${SLUICE_EMBED_SCRIPT}"
    DEPENDS "${SLUICE_EMBED_SCRIPT}"
    COMMENT "Embedding a placeholder page (SLUICE_BUILD_WEB=OFF)")
  return()
endif()

find_program(SLUICE_NODE node)
find_program(SLUICE_NPM npm)
if(NOT SLUICE_NODE OR NOT SLUICE_NPM)
  message(FATAL_ERROR
    "The dashboard (web/) is built with Node.js and npm, and they were not found.\n"
    "Install them with scripts/install-deps.sh (Debian: apt-get install nodejs npm), or configure "
    "with -DSLUICE_BUILD_WEB=OFF to build a binary without the dashboard.")
endif()

file(GLOB_RECURSE SLUICE_WEB_APP_FILES CONFIGURE_DEPENDS
     "${SLUICE_WEB_SRC}/src/*" "${SLUICE_WEB_SRC}/public/*")
set(SLUICE_WEB_TOP_FILES
    "${SLUICE_WEB_SRC}/index.html" "${SLUICE_WEB_SRC}/vite.config.js")
set(SLUICE_WEB_STAMP "${SLUICE_WEB_WORK}/node_modules/.sluice-npm-ci")

add_custom_command(
  OUTPUT "${SLUICE_WEB_STAMP}"
  COMMAND "${CMAKE_COMMAND}" -E make_directory "${SLUICE_WEB_WORK}"
  COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${SLUICE_WEB_SRC}/package.json"
          "${SLUICE_WEB_SRC}/package-lock.json" "${SLUICE_WEB_WORK}/"
  # npm ci wants every platform's optional packages (rollup's native builds) in the lock; a
  # registry mirror that only serves this platform's leaves them out, so fall back to npm install,
  # which keeps the locked versions and skips the missing optional ones.
  COMMAND sh -c "'${SLUICE_NPM}' ci --no-audit --no-fund --loglevel=error 2>/dev/null || '${SLUICE_NPM}' install --no-audit --no-fund --loglevel=error"
  COMMAND "${CMAKE_COMMAND}" -E touch "${SLUICE_WEB_STAMP}"
  WORKING_DIRECTORY "${SLUICE_WEB_WORK}"
  DEPENDS "${SLUICE_WEB_SRC}/package.json" "${SLUICE_WEB_SRC}/package-lock.json"
  COMMENT "Dashboard: npm ci"
  VERBATIM)

add_custom_command(
  OUTPUT "${SLUICE_WEB_CC}"
  COMMAND "${CMAKE_COMMAND}" -E rm -rf "${SLUICE_WEB_WORK}/src" "${SLUICE_WEB_WORK}/public"
          "${SLUICE_WEB_WORK}/dist"
  COMMAND "${CMAKE_COMMAND}" -E copy_directory "${SLUICE_WEB_SRC}/src" "${SLUICE_WEB_WORK}/src"
  COMMAND "${CMAKE_COMMAND}" -E copy_if_different ${SLUICE_WEB_TOP_FILES} "${SLUICE_WEB_WORK}/"
  COMMAND "${SLUICE_NODE}" node_modules/vite/bin/vite.js build --logLevel warn
  COMMAND "${CMAKE_COMMAND}" "-DDIST=${SLUICE_WEB_WORK}/dist" "-DOUT=${SLUICE_WEB_CC}"
          -P "${SLUICE_EMBED_SCRIPT}"
  WORKING_DIRECTORY "${SLUICE_WEB_WORK}"
  DEPENDS "${SLUICE_WEB_STAMP}" ${SLUICE_WEB_APP_FILES} ${SLUICE_WEB_TOP_FILES}
          "${SLUICE_EMBED_SCRIPT}"
  COMMENT "Dashboard: vite build and embed"
  VERBATIM)
