# The command line sits on top (docs/design.md section 2): each library takes typed options, and
# only cli/ parses flags. fallbench_check_cli_boundary() fails configuration when a library target
# links fallbench_cli_support, directly or through its LINK_LIBRARIES / INTERFACE_LINK_LIBRARIES
# (fallbench_forbid_link), or when a source or header of one includes "fallbench/cli/...".
# Executables (the `fallbench` front door, tests) may use it.

# The targets defined in `dir` and the directories below it.
function(fallbench_targets_below dir out)
  get_property(targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    fallbench_targets_below("${sub}" more)
    list(APPEND targets ${more})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

# The files of a target to search: its sources and header sets, and every header beside them (the
# private headers of src/ are in no list).
function(fallbench_target_files target out)
  get_target_property(dir ${target} SOURCE_DIR)
  get_target_property(sources ${target} SOURCES)
  get_target_property(sets ${target} HEADER_SETS)
  set(listed "")
  foreach(file IN LISTS sources)
    if(file AND NOT file MATCHES "-NOTFOUND$" AND NOT file MATCHES "^\\$<")
      list(APPEND listed "${file}")
    endif()
  endforeach()
  foreach(set IN LISTS sets)
    if(set AND NOT set MATCHES "-NOTFOUND$")
      get_target_property(headers ${target} HEADER_SET_${set})
      list(APPEND listed ${headers})
    endif()
  endforeach()
  set(files "")
  foreach(file IN LISTS listed)
    cmake_path(ABSOLUTE_PATH file BASE_DIRECTORY "${dir}")
    if(NOT EXISTS "${file}")
      continue()  # generated at build time (embedded pages, schemas): no include of ours
    endif()
    list(APPEND files "${file}")
    cmake_path(GET file PARENT_PATH parent)
    file(GLOB beside "${parent}/*.hpp" "${parent}/*.h")
    list(APPEND files ${beside})
  endforeach()
  list(REMOVE_DUPLICATES files)
  set(${out} ${files} PARENT_SCOPE)
endfunction()

function(fallbench_check_cli_boundary)
  fallbench_targets_below("${PROJECT_SOURCE_DIR}" targets)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    if(NOT type MATCHES "_LIBRARY$" OR target STREQUAL "fallbench_cli_support")
      continue()
    endif()
    fallbench_forbid_link(${target} fallbench_cli_support)
    fallbench_target_files(${target} files)
    foreach(file IN LISTS files)
      file(STRINGS "${file}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]fallbench/cli/")
      if(includes)
        message(FATAL_ERROR "${file} (library ${target}) includes a header of cli/ (${includes}): flag parsing "
                            "lives only in cli/, libraries take typed options (docs/design.md section 2)")
      endif()
    endforeach()
  endforeach()
endfunction()
