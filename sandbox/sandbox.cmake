# sandgate._sandbox and its tests; included from the root CMakeLists.txt.
# Boost-free on purpose: the zygote imports this module, and the zygote's size is fork cost.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(SANDGATE_LIBSECCOMP QUIET IMPORTED_TARGET libseccomp>=2.5)
endif()
if(TARGET PkgConfig::SANDGATE_LIBSECCOMP)
  set(SANDGATE_SECCOMP_TARGET PkgConfig::SANDGATE_LIBSECCOMP)
else()
  find_library(SANDGATE_SECCOMP_LIBRARY seccomp REQUIRED)
  find_path(SANDGATE_SECCOMP_INCLUDE_DIR seccomp.h REQUIRED)
  add_library(sandgate_libseccomp UNKNOWN IMPORTED)
  set_target_properties(sandgate_libseccomp PROPERTIES
    IMPORTED_LOCATION ${SANDGATE_SECCOMP_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${SANDGATE_SECCOMP_INCLUDE_DIR})
  set(SANDGATE_SECCOMP_TARGET sandgate_libseccomp)
endif()

# Everything but the bindings, so the C++ tests exercise exactly what the module ships.
add_library(sandgate_sandbox STATIC
  ${CMAKE_CURRENT_LIST_DIR}/child_steps.cc
  ${CMAKE_CURRENT_LIST_DIR}/fds.cc
  ${CMAKE_CURRENT_LIST_DIR}/mount_tree.cc
  ${CMAKE_CURRENT_LIST_DIR}/namespaces.cc
  ${CMAKE_CURRENT_LIST_DIR}/privileges.cc
  ${CMAKE_CURRENT_LIST_DIR}/rlimits.cc
  ${CMAKE_CURRENT_LIST_DIR}/scratch_rebind.cc
  ${CMAKE_CURRENT_LIST_DIR}/seccomp_profile.cc
  ${CMAKE_CURRENT_LIST_DIR}/spawn.cc
  ${CMAKE_CURRENT_LIST_DIR}/zygote_loop.cc
)
cmake_path(GET CMAKE_CURRENT_LIST_DIR PARENT_PATH SANDGATE_SANDBOX_ROOT)
target_include_directories(sandgate_sandbox PUBLIC ${SANDGATE_SANDBOX_ROOT})
target_link_libraries(sandgate_sandbox PUBLIC ${SANDGATE_SECCOMP_TARGET})
set_target_properties(sandgate_sandbox PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)

if(SANDGATE_BUILD_MODULE)
  pybind11_add_module(_sandbox ${CMAKE_CURRENT_LIST_DIR}/module.cc)
  target_link_libraries(_sandbox PRIVATE sandgate_sandbox)
  # Lands as <build>/sandgate/_sandbox*.so, importable for experiments with PYTHONPATH=<build>/sandgate.
  set_target_properties(_sandbox PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/sandgate)
  install(TARGETS _sandbox DESTINATION sandgate)
endif()

if(SANDGATE_BUILD_TESTS)
  enable_testing()
  find_package(GTest REQUIRED)
  include(GoogleTest)
  foreach(name seccomp_profile_test child_steps_test mount_tree_test zygote_loop_test scratch_rebind_test)
    add_executable(sandbox_${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.cc)
    target_link_libraries(sandbox_${name} PRIVATE sandgate_sandbox GTest::gtest_main)
    # Every case forks its own bounded child; the prefix lets `ctest -R sandbox` select them.
    gtest_discover_tests(sandbox_${name} TEST_PREFIX "sandbox." DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 30
                         PROPERTIES TIMEOUT 60)
  endforeach()
endif()
