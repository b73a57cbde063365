# vigil_link_static_deps(TARGET): links TARGET (vigil-agent) against Debian's static archives of
# gRPC, Protobuf, Abseil, RE2, c-ares, yaml-cpp and hiredis instead of their shared libraries,
# keeps it a PIE with packed relative relocations, and drops unreferenced sections.
#
# Why: most of a small daemon's resident memory is file-backed pages of the shared libraries it
# loads (the dynamic loader reads their symbol and relocation tables, and every page touched
# maps its 64 KiB neighbourhood). A static archive contributes only the objects the binary
# references, laid out together. Measured in bench/agent_footprint (docs/performance.md).
#
# How: each shared item (imported target, or a pkg-config path) is replaced, for TARGET only,
# by a CMake link feature that puts the archive just before it (LINK_LIBRARY_OVERRIDE_<item>);
# CMake keeps its dependency order, which is the order archives need. The shared library stays
# on the line after its archive; with --as-needed it is recorded only if the archive left a
# symbol unresolved, which the POST_BUILD check turns into a build error (two copies of Abseil
# in one process must never happen). Other targets (the collector, the tests) link as before.
# dpkg-shlibdeps simply finds fewer libraries.

# Script mode (the POST_BUILD check): fails if VIGIL_CHECK_BINARY still needs the shared
# library of one of VIGIL_CHECK_ARCHIVES (comma-separated archive file names).
if(CMAKE_SCRIPT_MODE_FILE)
  cmake_policy(VERSION 3.25)
  execute_process(COMMAND readelf -d "${VIGIL_CHECK_BINARY}" OUTPUT_VARIABLE dynamic
    COMMAND_ERROR_IS_FATAL ANY)
  # "(NEEDED) Shared library: [libfoo.so.1]" -> libfoo.a (brackets would confuse CMake lists).
  string(REGEX REPLACE "[][]" " " dynamic "${dynamic}")
  string(REGEX MATCHALL "Shared library:  lib[^ .]+" needed "${dynamic}")
  string(REPLACE "," ";" archives "${VIGIL_CHECK_ARCHIVES}")
  foreach(entry IN LISTS needed)
    string(REGEX REPLACE "^Shared library:  (lib.*)$" "\\1.a" archive "${entry}")
    if(archive IN_LIST archives)
      message(FATAL_ERROR "${VIGIL_CHECK_BINARY} links ${archive} and still needs its shared "
        "library: an archive left a symbol unresolved, so the process would hold two copies")
    endif()
  endforeach()
  return()
endif()

set(_vigil_static_deps_file "${CMAKE_CURRENT_LIST_FILE}")
option(VIGIL_AGENT_STATIC_DEPS
  "Link vigil-agent with Debian's static archives of gRPC, Protobuf, Abseil and a few more"
  ON)

# Shared libraries whose archive replaces them; matched on the file name without the
# "lib" prefix and the ".so..." suffix.
set(_vigil_static_names
  "grpc\\+\\+" grpc gpr upb address_sorting cares re2 protobuf "yaml-cpp" "absl_.*" hiredis)

# The shared library file behind an imported target, or "" if it has none.
function(_vigil_imported_location target out)
  set(location "")
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "SHARED_LIBRARY" OR type STREQUAL "UNKNOWN_LIBRARY")
    get_target_property(location ${target} IMPORTED_LOCATION)
    if(NOT location)
      get_target_property(configs ${target} IMPORTED_CONFIGURATIONS)
      foreach(config IN LISTS configs)
        get_target_property(location ${target} IMPORTED_LOCATION_${config})
        if(location)
          break()
        endif()
      endforeach()
    endif()
  endif()
  if(NOT location)
    set(location "")
  endif()
  set(${out} "${location}" PARENT_SCOPE)
endfunction()

# The static archive beside shared library `file` if its name is in _vigil_static_names.
function(_vigil_static_archive file out)
  set(archive "")
  get_filename_component(dir "${file}" DIRECTORY)
  get_filename_component(name "${file}" NAME)
  foreach(pattern IN LISTS _vigil_static_names)
    if(name MATCHES "^lib(${pattern})\\.so(\\.[0-9.]+)?$")
      if(EXISTS "${dir}/lib${CMAKE_MATCH_1}.a")
        set(archive "${dir}/lib${CMAKE_MATCH_1}.a")
      endif()
      break()
    endif()
  endforeach()
  set(${out} "${archive}" PARENT_SCOPE)
endfunction()

# Defines, in the calling directory, a link feature that puts `archive` before the link item, and
# makes `target` link `item` (a target name or a link line item) with it.
macro(_vigil_add_static_override target item archive)
  string(MAKE_C_IDENTIFIER "${archive}" _vigil_feature)
  set(_vigil_feature "VIGIL_STATIC_${_vigil_feature}")
  set(CMAKE_LINK_LIBRARY_USING_${_vigil_feature} "${archive}" "<LIBRARY>" "")
  set(CMAKE_LINK_LIBRARY_USING_${_vigil_feature}_SUPPORTED TRUE)
  set_property(TARGET ${target} PROPERTY LINK_LIBRARY_OVERRIDE_${item} ${_vigil_feature})
  get_filename_component(_vigil_archive_name "${archive}" NAME)
  list(APPEND _vigil_static_archives "${_vigil_archive_name}")
endmacro()

# Whether vigil_link_static_deps links statically. Sanitizer builds link as the tests do:
# they look for bugs, not for resident memory.
if(VIGIL_AGENT_STATIC_DEPS AND NOT VIGIL_SANITIZE)
  set(VIGIL_AGENT_LINKS_STATIC ON)
else()
  set(VIGIL_AGENT_LINKS_STATIC OFF)
endif()

# Must be called from the directory that defines `target` (link features are read there).
macro(vigil_link_static_deps target)
  if(VIGIL_AGENT_LINKS_STATIC)
    set(_vigil_static_archives "")
    # Imported targets from the packages' CMake configurations (created at the top level).
    get_directory_property(_vigil_imported DIRECTORY ${PROJECT_SOURCE_DIR} IMPORTED_TARGETS)
    foreach(_vigil_target IN LISTS _vigil_imported)
      _vigil_imported_location(${_vigil_target} _vigil_location)
      if(_vigil_location)
        _vigil_static_archive("${_vigil_location}" _vigil_archive)
        if(_vigil_archive)
          _vigil_add_static_override(${target} ${_vigil_target} "${_vigil_archive}")
        endif()
      endif()
    endforeach()
    # pkg-config items: gRPC's re2::re2 says -lre2; pkg_check_modules(IMPORTED_TARGET) says the
    # full path of the development symlink.
    foreach(_vigil_name re2 hiredis)
      find_library(VIGIL_${_vigil_name}_SHARED NAMES lib${_vigil_name}.so)
      if(VIGIL_${_vigil_name}_SHARED)
        _vigil_static_archive("${VIGIL_${_vigil_name}_SHARED}" _vigil_archive)
        if(_vigil_archive)
          _vigil_add_static_override(${target} "${VIGIL_${_vigil_name}_SHARED}" "${_vigil_archive}")
          _vigil_add_static_override(${target} "-l${_vigil_name}" "${_vigil_archive}")
        endif()
      endif()
    endforeach()
    list(REMOVE_DUPLICATES _vigil_static_archives)
    # Packed relative relocations (glibc 2.36, binutils 2.38) keep the binary a PIE while its
    # loader no longer reads a 24-byte record per pointer in vtables and descriptor tables.
    target_link_options(${target} PRIVATE
      LINKER:--gc-sections LINKER:--as-needed LINKER:-z,pack-relative-relocs)
    # A shared library replaced above that is still needed means an archive left a symbol
    # unresolved: the process would hold two copies of that library.
    list(JOIN _vigil_static_archives "," _vigil_archive_list)
    add_custom_command(TARGET ${target} POST_BUILD
      COMMAND ${CMAKE_COMMAND} -DVIGIL_CHECK_BINARY=$<TARGET_FILE:${target}>
              "-DVIGIL_CHECK_ARCHIVES=${_vigil_archive_list}" -P ${_vigil_static_deps_file}
      VERBATIM)
  endif()
endmacro()
