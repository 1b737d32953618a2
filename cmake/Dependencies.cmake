# Every dependency comes from Debian's packages (installed by scripts/install-deps.sh); nothing is
# downloaded at build time.
find_package(OpenMP REQUIRED)
find_package(ZLIB REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(Boost 1.71 REQUIRED)  # header-only: Boost.Random's sobol engine
find_package(Threads REQUIRED)

# OpenBLAS: the imported target krill::openblas (cmake/krillOpenBLAS.cmake, also installed with
# krill's CMake package so that a project using installed krill finds it the same way).
include(${CMAKE_CURRENT_LIST_DIR}/krillOpenBLAS.cmake)
if(NOT KRILL_OPENBLAS_FOUND)
  message(FATAL_ERROR "OpenBLAS not found: apt-get install libopenblas-openmp-dev "
                      "(or run scripts/install-deps.sh)")
endif()
if(NOT KRILL_OPENBLAS_VARIANT STREQUAL "openmp")
  message(WARNING "Using ${KRILL_OPENBLAS_LIB}, not the OpenMP build of OpenBLAS: BLAS threads "
                  "and krill's OpenMP threads may compete. apt-get install libopenblas-openmp-dev")
endif()
message(STATUS "OpenBLAS: ${KRILL_OPENBLAS_LIB} (${KRILL_OPENBLAS_VARIANT}), cblas.h in ${KRILL_CBLAS_INCLUDE}")

if(KRILL_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(KRILL_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()

# cpp-httplib, for `krill report --serve`. Debian's libcpp-httplib-dev is a compiled library
# (httplib.h declares, libcpp-httplib.so defines) with a pkg-config file and no CMake config;
# upstream's install has the CMake config httplib::httplib, used when present.
find_package(httplib CONFIG QUIET)
add_library(krill_httplib INTERFACE)
if(TARGET httplib::httplib)
  target_link_libraries(krill_httplib INTERFACE httplib::httplib)
else()
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(CPP_HTTPLIB IMPORTED_TARGET cpp-httplib)
  if(NOT CPP_HTTPLIB_FOUND)
    message(FATAL_ERROR "cpp-httplib not found: apt-get install libcpp-httplib-dev "
                        "(or run scripts/install-deps.sh)")
  endif()
  target_link_libraries(krill_httplib INTERFACE PkgConfig::CPP_HTTPLIB Threads::Threads)
endif()

# MPI (optional): distributed studies, `mpirun -np N krill tune` (src/exec/mpi). Standard MPI-3
# through its C interface, so Open MPI (Debian's openmpi-bin, libopenmpi-dev: installed by
# scripts/install-deps.sh) and MPICH both work. Without it krill builds, and a job launched by
# mpirun or srun is refused with a message that says krill was built without MPI.
option(KRILL_MPI "Build distributed studies with MPI when an MPI library is found" ON)
set(KRILL_HAVE_MPI OFF)
if(KRILL_MPI)
  set(MPI_CXX_SKIP_MPICXX ON)  # the C interface from C++; not the deprecated C++ bindings
  find_package(MPI COMPONENTS CXX)
  if(MPI_CXX_FOUND)
    set(KRILL_HAVE_MPI ON)
    message(STATUS "MPI: ${MPI_CXX_LIBRARIES} (MPI ${MPI_CXX_VERSION}); launcher ${MPIEXEC_EXECUTABLE}")
  else()
    message(STATUS "MPI: not found, distributed studies left out (apt-get install libopenmpi-dev)")
  endif()
endif()

# Kernel libraries chosen by measurement (issue 12; docs/ARCHITECTURE.md, "Kernels chosen by
# measurement"), both optional: Debian's oneDNN (libdnnl-dev; its CPU runtime is OpenMP, so it runs
# on krill's own team) and libxsmm (libxsmm-dev; a static library, no CMake package).
# bench/kernel_choice_bench.cpp measures them against OpenBLAS when both are present. The CPU
# backend uses oneDNN for convolutions and, on one thread, the larger GEMMs (KRILL_HAVE_ONEDNN);
# libxsmm won nothing and is only measured. Without them krill builds and runs as before (im2col +
# OpenBLAS). The sanitizer and fuzz builds leave oneDNN out: its JIT-generated code is invisible to
# the sanitizers, so they test krill's own path.
# Debian's dnnl-config.cmake calls find_package(OpenCL REQUIRED) (its GPU runtime is OpenCL),
# which stops the configuration where ocl-icd-opencl-dev is missing: look for OpenCL first and
# leave oneDNN out without it.
find_package(OpenCL QUIET)
if(OpenCL_FOUND)
  find_package(dnnl CONFIG QUIET)
elseif(EXISTS /usr/lib/x86_64-linux-gnu/cmake/dnnl OR EXISTS /usr/lib/cmake/dnnl)
  message(STATUS "oneDNN: its CMake package needs OpenCL (apt-get install ocl-icd-opencl-dev)")
endif()
option(KRILL_ONEDNN "Run convolutions on oneDNN when libdnnl-dev is found" ON)
set(KRILL_HAVE_ONEDNN OFF)
if(KRILL_ONEDNN AND TARGET DNNL::dnnl AND NOT KRILL_SANITIZE AND NOT KRILL_FUZZ)
  set(KRILL_HAVE_ONEDNN ON)
endif()
find_path(KRILL_LIBXSMM_INCLUDE libxsmm.h)
find_library(KRILL_LIBXSMM_LIB NAMES libxsmm.a xsmm)
if(TARGET DNNL::dnnl)
  message(STATUS "oneDNN: ${dnnl_VERSION}, used by the CPU backend: ${KRILL_HAVE_ONEDNN}")
else()
  message(STATUS "oneDNN: not found (apt-get install libdnnl-dev), kernel_choice_bench left out")
endif()
if(KRILL_LIBXSMM_INCLUDE AND KRILL_LIBXSMM_LIB)
  add_library(krill_libxsmm INTERFACE)
  target_include_directories(krill_libxsmm INTERFACE ${KRILL_LIBXSMM_INCLUDE})
  target_link_libraries(krill_libxsmm INTERFACE ${KRILL_LIBXSMM_LIB} krill::openblas
                        Threads::Threads ${CMAKE_DL_LIBS} rt m)
  message(STATUS "libxsmm: ${KRILL_LIBXSMM_LIB}")
else()
  message(STATUS "libxsmm: not found (apt-get install libxsmm-dev), kernel_choice_bench left out")
endif()

# PostgreSQL (optional): studies on a database server (`storage: postgresql://user@host/db`,
# src/store/postgres_storage.cpp), through Debian's libpq-dev (installed by
# scripts/install-deps.sh). Without it krill builds, and a postgresql:// storage is refused with a
# message that says krill was built without PostgreSQL.
option(KRILL_POSTGRES "Store studies on PostgreSQL when libpq is found" ON)
set(KRILL_HAVE_POSTGRES OFF)
if(KRILL_POSTGRES)
  find_package(PostgreSQL)
  if(TARGET PostgreSQL::PostgreSQL)
    set(KRILL_HAVE_POSTGRES ON)
    message(STATUS "PostgreSQL: libpq ${PostgreSQL_VERSION_STRING} (${PostgreSQL_LIBRARIES})")
  else()
    message(STATUS "PostgreSQL: libpq not found, postgresql:// storages left out (apt-get install libpq-dev)")
  endif()
endif()

# CUDA (optional): the cuda backend (src/backend/cuda), where nvcc is found (CMAKE_CUDA_COMPILER,
# CUDACXX, or /usr/local/cuda/bin/nvcc) with the toolkit's cuBLAS. cudart is linked statically (a
# binary then needs only the driver, libcuda, and cuBLAS), cuBLAS as a shared library. Built for
# CMAKE_CUDA_ARCHITECTURES, default 90 (H100/H200). Without nvcc, or with -DKRILL_CUDA=OFF, krill
# builds as before and backend(Device::Cuda) says it is not built. The sanitizer and fuzz builds
# leave it out, as they leave oneDNN out: the sanitizers cannot see into device code or the CUDA
# runtime.
option(KRILL_CUDA "Build the CUDA backend when nvcc is found" ON)
set(KRILL_HAVE_CUDA OFF)
if(KRILL_CUDA AND NOT KRILL_SANITIZE AND NOT KRILL_FUZZ)
  if(NOT DEFINED CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX}
     AND EXISTS /usr/local/cuda/bin/nvcc)
    set(ENV{CUDACXX} /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90 CACHE STRING "GPU architectures of the CUDA backend")
    endif()
    enable_language(CUDA)
    # CMake before 3.26 knows no C++20 dialect for nvcc, and the CUDA sources take krill's C++20.
    if(NOT DEFINED CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
      set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
      set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    endif()
    find_package(CUDAToolkit)
    if(TARGET CUDA::cublas AND TARGET CUDA::cudart_static)
      set(KRILL_HAVE_CUDA ON)
      get_filename_component(KRILL_CUDA_ROOT "${CUDAToolkit_BIN_DIR}" DIRECTORY)  # for krillConfig
    endif()
  endif()
endif()
if(KRILL_HAVE_CUDA)
  message(STATUS "CUDA: nvcc ${CMAKE_CUDA_COMPILER_VERSION} (sm_${CMAKE_CUDA_ARCHITECTURES}), "
                 "cuBLAS ${CUDA_cublas_LIBRARY}: the cuda backend is built")
elseif(NOT KRILL_CUDA)
  message(STATUS "CUDA: off (-DKRILL_CUDA=OFF), the cuda backend left out")
elseif(KRILL_SANITIZE OR KRILL_FUZZ)
  message(STATUS "CUDA: not in sanitizer or fuzz builds, the cuda backend left out")
elseif(CMAKE_CUDA_COMPILER)
  message(STATUS "CUDA: nvcc found but not cuBLAS (${CUDAToolkit_LIBRARY_DIR}), the cuda backend left out")
else()
  message(STATUS "CUDA: not found (/usr/local/cuda), the cuda backend left out")
endif()
