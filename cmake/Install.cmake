# cmake --install build --prefix P: krill as a C++ library (README, "krill as a C++ library").
#
#   P/include/krill/<layer>/*.hpp         the headers of src/, included as "hpo/study.hpp" (the
#                                         exported targets put P/include/krill on the include
#                                         path; P/include too, so <krill/hpo/study.hpp> works)
#   P/lib/libkrill_<layer>.a              one static library per layer
#   P/lib/cmake/krill/                    the CMake package: find_package(krill CONFIG REQUIRED),
#                                         then link krill::hpo or krill::krill (src/CMakeLists.txt)
#   P/bin/krill                           the command line (apps/krill)
#
# The report's embedded assets are compiled into libkrill_report.a (a generated .cpp, no header),
# so nothing generated is installed.
include(CMakePackageConfigHelpers)

set(KRILL_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/krill CACHE STRING
    "Where cmake --install puts krill's CMake package (relative to the prefix)")

get_property(_krill_libraries GLOBAL PROPERTY KRILL_LIBRARIES)
install(TARGETS ${_krill_libraries} krill_hpo_layer krill_all
  EXPORT krillTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})

# Every header of src/, keeping its layer folder. mpi_transport.hpp includes <mpi.h>: only in a
# build with MPI.
set(_krill_header_excludes)
if(NOT KRILL_HAVE_MPI)
  set(_krill_header_excludes PATTERN mpi_transport.hpp EXCLUDE)
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/src/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/krill
  FILES_MATCHING PATTERN "*.hpp" ${_krill_header_excludes})

install(EXPORT krillTargets
  NAMESPACE krill::
  FILE krillTargets.cmake
  DESTINATION ${KRILL_INSTALL_CMAKEDIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/krillConfig.cmake.in
  ${PROJECT_BINARY_DIR}/krillConfig.cmake
  INSTALL_DESTINATION ${KRILL_INSTALL_CMAKEDIR})
# 0.x: a minor version may change the API, so 0.1 satisfies find_package(krill 0.1) only.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/krillConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/krillConfig.cmake
  ${PROJECT_BINARY_DIR}/krillConfigVersion.cmake
  ${CMAKE_CURRENT_LIST_DIR}/krillOpenBLAS.cmake
  DESTINATION ${KRILL_INSTALL_CMAKEDIR})
