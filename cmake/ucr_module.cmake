# ucr_module(NAME SOURCES ... PUBLIC_DEPS ... PRIVATE_DEPS ...)
# One static library per module, alias ucr::NAME, include root at src/.
function(ucr_module name)
  cmake_parse_arguments(M "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(ucr_${name} STATIC ${M_SOURCES})
  add_library(ucr::${name} ALIAS ucr_${name})
  target_include_directories(ucr_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(ucr_${name} PUBLIC ${M_PUBLIC_DEPS} PRIVATE ${M_PRIVATE_DEPS})
endfunction()
