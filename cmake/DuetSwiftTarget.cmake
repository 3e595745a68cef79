# Helpers that add Swift targets laid out the SwiftPM way (Sources/<Name>/**/*.swift).
#
#   duet_add_swift_library(<Name> [DEPENDS <targets...>] [RELEASE_OPTIONS <swiftc flags...>])
#   duet_add_swift_executable(<Name> [DEPENDS <targets...>] [RELEASE_OPTIONS <swiftc flags...>])
#
# RELEASE_OPTIONS mirror a target's `.unsafeFlags([...], .when(configuration: .release))` in Package.swift; they apply
# to every configuration except Debug (SwiftPM has only debug and release) and come after CMake's -O, so e.g.
# -Ounchecked wins, as it does in SwiftPM.
#
# Sources are globbed recursively with CONFIGURE_DEPENDS, so a .swift file added (or removed) anywhere under
# Sources/<Name> makes the next `ninja` re-run CMake and pick it up, as SwiftPM does, with no list to maintain here.

# All Duet .swiftmodule files go to one directory; consumers find them through -I (see below).
set(DUET_SWIFT_MODULE_DIR "${CMAKE_BINARY_DIR}/swift-modules" CACHE INTERNAL "")

# --- Making CMake 3.25's Swift + Ninja support build correctly and incrementally ---------------------------------
# CMake 3.25 builds a whole Swift target with one swiftc call. Ninja sees that call as producing one object file per
# source (the paths in CMake's output file map) plus the .swiftmodule, with the target's .swift files as its only
# inputs, and it rebuilds whenever an output is missing or older than an input. The settings below make swiftc keep
# to that contract; each one fixes a rebuild-everything-every-time or never-rebuild problem seen here.

# Whole-module optimisation outside Debug, as in SwiftPM release builds (CMAKE_Swift_FLAGS_RELEASE already supplies
# -O). CMake 3.25 has no CMAKE_Swift_COMPILATION_MODE (new in 3.26), so it is requested by hand, and -num-threads must
# come with it: plain -wmo writes a single object to a temporary directory, so the per-source objects never exist and
# every Swift target is rebuilt on every run; with -num-threads N swiftc still optimises the whole module but writes
# the per-source objects (SwiftPM passes the same flag).
if(CMAKE_Swift_NUM_THREADS MATCHES "^[1-9][0-9]*$")
  set(_duet_wmo_threads ${CMAKE_Swift_NUM_THREADS})
else()
  set(_duet_wmo_threads 1)
endif()
# -disable-incremental-llvm-codegen: by default swiftc skips rewriting an object file whose code did not change. Its
# old timestamp then stays older than the edited source, and Ninja rebuilds the target on every later run.
set(DUET_SWIFT_BUILD_FLAGS
  "$<$<NOT:$<CONFIG:Debug>>:-wmo;-num-threads;${_duet_wmo_threads}>"
  "SHELL:-Xfrontend -disable-incremental-llvm-codegen")

# CMake's rules pass -incremental, which lets swiftc skip recompiling unchanged files and leave their objects stale
# for the same reason (and under -wmo only prints "remark: Incremental compilation has been disabled"). Ninja already
# decides what to rebuild per target, and Duet's modules are small, so drop it.
foreach(rule CMAKE_Swift_CREATE_STATIC_LIBRARY CMAKE_Swift_CREATE_SHARED_LIBRARY CMAKE_Swift_LINK_EXECUTABLE)
  string(REPLACE " -incremental" "" ${rule} "${${rule}}")
endforeach()

# CMake lists <name>.swiftmodule among the outputs of a Swift executable, but its executable rule never writes one,
# so Ninja sees a missing output and relinks `duet` on every run. Have swiftc emit the module where CMake expects it
# (SwiftPM also emits a module for executables).
string(REPLACE "-emit-executable" "-emit-executable -emit-module -emit-module-path <SWIFT_MODULE>"
       CMAKE_Swift_LINK_EXECUTABLE "${CMAKE_Swift_LINK_EXECUTABLE}")

# swiftc also leaves the .swiftmodule untouched when the module's interface did not change; it would then stay older
# than the edited source and the target would be rebuilt on every run. Bump its timestamp after each build of any
# Swift target (the fetched ArgumentParser included). Modules that import it are then recompiled too, which errs on
# the side of correctness.
foreach(rule CMAKE_Swift_CREATE_STATIC_LIBRARY CMAKE_Swift_CREATE_SHARED_LIBRARY CMAKE_Swift_LINK_EXECUTABLE)
  string(APPEND ${rule} " && \"${CMAKE_COMMAND}\" -E touch <SWIFT_MODULE>")
endforeach()

# The last gap -- a target is not rebuilt when a module it imports changes -- is closed per target by
# _duet_swift_rebuild_on_dependency_change below.

# Settings shared by every Duet Swift target (not by the fetched ArgumentParser, which is Swift 5 code).
# Arguments after the name: RELEASE_OPTIONS list (as one ;-list), then the dependencies.
function(_duet_swift_common_settings name release_options)
  set(dir "${PROJECT_SOURCE_DIR}/Sources/${name}")
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS "${dir}/*.swift")
  if(NOT sources)
    message(FATAL_ERROR "Swift target ${name}: no .swift files under ${dir}")
  endif()
  target_sources(${name} PRIVATE ${sources})

  # Package.swift says `swiftLanguageModes: [.v6]`; CMake turns this property into `-swift-version 6`.
  set_target_properties(${name} PROPERTIES
    Swift_LANGUAGE_VERSION 6
    Swift_MODULE_NAME ${name}
    Swift_MODULE_DIRECTORY "${DUET_SWIFT_MODULE_DIR}")

  # -DDEBUG in Debug matches SwiftPM's debug configuration, so `#if DEBUG` code behaves the same in both builds.
  target_compile_options(${name} PRIVATE "${DUET_SWIFT_BUILD_FLAGS}" "$<$<CONFIG:Debug>:-DDEBUG>")
  if(release_options)
    target_compile_options(${name} PRIVATE "$<$<NOT:$<CONFIG:Debug>>:${release_options}>")
  endif()

  # PUBLIC, as in SwiftPM: importing a Duet module makes swiftc load the modules *it* imports (CMPI, CHDF5,
  # DuetShim, ...), so their -I paths have to reach every transitive consumer, not only the direct one.
  target_link_libraries(${name} PUBLIC ${ARGN})

  _duet_swift_rebuild_on_dependency_change(${name} ${ARGN})
endfunction()

# CMake 3.25 + Ninja compiles a Swift target in a single swiftc call whose only inputs are the target's own .swift
# files (CMake does not read the dependency files swiftc can write), and a static library's build step never
# depends on other targets. So after DuetCore changes, Ninja would rebuild DuetCore but not DuetComm, which would
# keep code compiled against the old DuetCore.swiftmodule (stale inlined code, old struct layouts) -- SwiftPM would
# recompile it. Fix: give each target a generated, empty .swift source that a custom command re-touches whenever a
# dependency's interface changes: the .swiftmodule of a Duet Swift library, the headers and module map of a C or
# system library (the DUET_INTERFACE_FILES property the helpers set), or the built file of any other target
# (ArgumentParser). The newer source then makes Ninja recompile the target, and the change propagates down the chain.
function(_duet_swift_rebuild_on_dependency_change name)
  set(inputs "")
  foreach(dep IN LISTS ARGN)
    if(NOT TARGET ${dep})
      continue()
    endif()
    get_target_property(files ${dep} DUET_INTERFACE_FILES)
    if(files)
      list(APPEND inputs ${files})
    else()
      list(APPEND inputs ${dep})   # a target name in DEPENDS = a file dependency on what it builds
    endif()
  endforeach()
  if(NOT inputs)
    return()
  endif()
  # The file name must not clash with a real source (swiftc rejects two files with the same name in one module, and
  # <Target>.swift is a common name), hence the odd one.
  set(stamp "${CMAKE_CURRENT_BINARY_DIR}/dependency-stamps/${name}/_DuetCMakeDependencyStamp.swift")
  add_custom_command(OUTPUT "${stamp}"
    COMMAND "${CMAKE_COMMAND}" -E touch "${stamp}"
    DEPENDS ${inputs}
    COMMENT "Scheduling ${name} for recompilation: a module it imports is new or changed"
    VERBATIM)
  target_sources(${name} PRIVATE "${stamp}")
endfunction()

function(duet_add_swift_library name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "" "DEPENDS;RELEASE_OPTIONS")
  # STATIC, like SwiftPM, which links library targets into the executable.
  add_library(${name} STATIC)
  _duet_swift_common_settings(${name} "${ARG_RELEASE_OPTIONS}" ${ARG_DEPENDS})
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  # CMake 3.25 writes the .swiftmodule but does not add its directory to the consumers' search path.
  target_include_directories(${name} INTERFACE "${DUET_SWIFT_MODULE_DIR}")
  set_property(TARGET ${name} PROPERTY DUET_INTERFACE_FILES "${DUET_SWIFT_MODULE_DIR}/${name}.swiftmodule")
endfunction()

function(duet_add_swift_executable name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "" "DEPENDS;RELEASE_OPTIONS")
  add_executable(${name})
  _duet_swift_common_settings(${name} "${ARG_RELEASE_OPTIONS}" ${ARG_DEPENDS})
  # Without a main.swift the entry point is an `@main` type, and swiftc only accepts `@main` when it is told the
  # files form a library-style module. SwiftPM makes the same decision automatically.
  get_target_property(sources ${name} SOURCES)
  set(has_main_swift FALSE)
  foreach(src IN LISTS sources)
    get_filename_component(base "${src}" NAME)
    if(base STREQUAL "main.swift")
      set(has_main_swift TRUE)
    endif()
  endforeach()
  if(NOT has_main_swift)
    target_compile_options(${name} PRIVATE -parse-as-library)
  endif()
endfunction()
