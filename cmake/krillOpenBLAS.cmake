# OpenBLAS as the imported target krill::openblas (its cblas.h and its library). Used twice: by
# krill's own build (cmake/Dependencies.cmake) and, installed beside krillConfig.cmake, by a project
# that does find_package(krill), so that the exported krill::krill_backend finds OpenBLAS where the
# consumer's machine has it rather than where the building machine had it.
#
# Prefers Debian's OpenMP build (libopenblas-openmp-dev), so that BLAS and krill's own element-wise
# loops share one OpenMP thread pool and never oversubscribe the cores; the pthread build spins its
# own threads next to OpenMP's. Sets KRILL_OPENBLAS_FOUND, KRILL_OPENBLAS_LIB, KRILL_CBLAS_INCLUDE
# and KRILL_OPENBLAS_VARIANT (openmp or other).
if(TARGET krill::openblas)
  set(KRILL_OPENBLAS_FOUND TRUE)
  return()
endif()
set(_krill_openblas_multiarch /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE})
set(_krill_openblas_include /usr/include/${CMAKE_LIBRARY_ARCHITECTURE})
find_path(KRILL_CBLAS_INCLUDE cblas.h
  PATHS ${_krill_openblas_include}/openblas-openmp ${_krill_openblas_include}/openblas-pthread
        ${_krill_openblas_include}/openblas /usr/include/openblas
  NO_DEFAULT_PATH)
find_path(KRILL_CBLAS_INCLUDE cblas.h PATH_SUFFIXES openblas)
find_library(KRILL_OPENBLAS_LIB NAMES openblas
  PATHS ${_krill_openblas_multiarch}/openblas-openmp ${_krill_openblas_multiarch}/openblas-pthread
  NO_DEFAULT_PATH)
find_library(KRILL_OPENBLAS_LIB NAMES openblas)
if(NOT KRILL_CBLAS_INCLUDE OR NOT KRILL_OPENBLAS_LIB)
  set(KRILL_OPENBLAS_FOUND FALSE)
  return()
endif()
set(KRILL_OPENBLAS_FOUND TRUE)
if(KRILL_OPENBLAS_LIB MATCHES "openblas-openmp")
  set(KRILL_OPENBLAS_VARIANT openmp)
else()
  set(KRILL_OPENBLAS_VARIANT other)
endif()
add_library(krill::openblas INTERFACE IMPORTED)
set_target_properties(krill::openblas PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${KRILL_CBLAS_INCLUDE}"
  INTERFACE_LINK_LIBRARIES "${KRILL_OPENBLAS_LIB}")
