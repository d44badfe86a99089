option(FALLBENCH_BUILD_TESTS "Build the test suite" ON)
option(FALLBENCH_BUILD_BENCHMARKS "Build the micro-benchmarks (bench/micro)" ON)
# libFuzzer targets in fuzz/ (clang only; the preset `fuzz` sets it, docs/fuzzing.md).
option(FALLBENCH_BUILD_FUZZ "Build the libFuzzer targets" OFF)
option(FALLBENCH_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" OFF)

# Every first-party target links this; third-party headers stay SYSTEM so their warnings do not count.
add_library(fallbench_warnings INTERFACE)
target_compile_options(fallbench_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Woverloaded-virtual
  $<$<BOOL:${FALLBENCH_WARNINGS_AS_ERRORS}>:-Werror>)

# fallbench_forbid_link(target forbidden...): fail configuration when `target` links any of
# `forbidden`, directly or through its transitive LINK_LIBRARIES.
function(fallbench_forbid_link target)
  set(seen "")
  set(queue ${target})
  while(queue)
    list(POP_FRONT queue current)
    if(current IN_LIST seen OR NOT TARGET ${current})
      continue()
    endif()
    list(APPEND seen ${current})
    get_target_property(aliased ${current} ALIASED_TARGET)
    if(aliased)
      list(APPEND queue ${aliased})
      continue()
    endif()
    get_target_property(libs ${current} LINK_LIBRARIES)
    get_target_property(ilibs ${current} INTERFACE_LINK_LIBRARIES)
    foreach(lib IN LISTS libs ilibs)
      if(lib AND NOT lib MATCHES "-NOTFOUND$")
        string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" lib "${lib}")
        list(APPEND queue ${lib})
      endif()
    endforeach()
  endwhile()
  foreach(bad IN LISTS ARGN)
    if(bad IN_LIST seen)
      message(FATAL_ERROR "${target} must not link ${bad} (module boundaries, docs/conventions.md section 1)")
    endif()
  endforeach()
endfunction()
