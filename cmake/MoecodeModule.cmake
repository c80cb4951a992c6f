# Helpers shared by every folder of the build.
#
# moecode_module(<target> [SOURCES ...] [DEPS ...] [PUBLIC_DEPS ...])
#   Declares the library of the calling folder. Its headers are included by their path
#   from the source root ("engine/gguf/gguf.h"), and that path resolves only for targets
#   that link this one: each module gets its own include root under the build tree,
#   holding a single symlink to its folder. Links are PRIVATE unless a public header of
#   this module includes a dependency's header (then list it in PUBLIC_DEPS). So an
#   include across layers that the dependency graph does not allow fails to build.

function(moecode_warnings target)
  get_target_property(_type ${target} TYPE)
  if(_type STREQUAL "INTERFACE_LIBRARY")
    return()
  endif()
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX,C>:-Wall -Wextra -Wno-missing-field-initializers>)
  if(MOECODE_SANITIZE)
    # GCC's flow analysis is confused by the sanitizers' instrumentation: it reports
    # -Wmaybe-uninitialized inside libstdc++ (<regex>, <functional>) that no plain build
    # sees (the GCC manual warns of false positives under -fsanitize). The plain build,
    # also -Werror in CI, keeps the warning.
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX,C>:-Wno-maybe-uninitialized>)
  endif()
  if(MOECODE_WERROR)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX,C>:-Werror>)
  endif()
endfunction()

function(moecode_include_root target out)
  file(RELATIVE_PATH _rel ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  set(_root ${PROJECT_BINARY_DIR}/modinc/${target})
  get_filename_component(_parent ${_root}/${_rel} DIRECTORY)
  file(MAKE_DIRECTORY ${_parent})
  if(NOT EXISTS ${_root}/${_rel})
    file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR} ${_root}/${_rel} SYMBOLIC)
  endif()
  set(${out} ${_root} PARENT_SCOPE)
endfunction()

function(moecode_module target)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;PUBLIC_DEPS" ${ARGN})
  moecode_include_root(${target} _root)
  if(M_SOURCES)
    add_library(${target} STATIC ${M_SOURCES})
    target_include_directories(${target} PUBLIC ${_root})
    target_link_libraries(${target} PRIVATE ${M_DEPS} PUBLIC ${M_PUBLIC_DEPS})
    moecode_warnings(${target})
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${_root})
    target_link_libraries(${target} INTERFACE ${M_DEPS} ${M_PUBLIC_DEPS})
  endif()
endfunction()
