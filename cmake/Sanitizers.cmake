# Sanitizer and fuzzing builds, each in its own build folder (scripts/test.sh makes them):
#
#   -DKRILL_SANITIZE=address,undefined   AddressSanitizer (with LeakSanitizer) + UBSan, build-asan
#   -DKRILL_SANITIZE=thread              ThreadSanitizer, build-tsan
#   -DKRILL_FUZZ=ON (clang only)         libFuzzer targets in fuzz/, build-fuzz; implies
#                                        address,undefined unless KRILL_SANITIZE says otherwise
#
# The flags apply to every target (libraries, tests, the krill binary), so that a finding anywhere
# in krill's own code is seen. Undefined behaviour is fatal (-fno-sanitize-recover): a test that
# triggers it fails instead of printing a warning nobody reads.
set(KRILL_SANITIZE "" CACHE STRING
    "Sanitizers to build with: empty (none), address, undefined, address,undefined or thread")
option(KRILL_FUZZ "Build the libFuzzer targets in fuzz/ (clang only)" OFF)

if(KRILL_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "KRILL_FUZZ needs clang (libFuzzer): configure a separate build folder "
                        "with CXX=clang++, e.g. CXX=clang++ cmake -S . -B build-fuzz -DKRILL_FUZZ=ON")
  endif()
  if(NOT KRILL_SANITIZE)
    set(KRILL_SANITIZE "address,undefined")
  endif()
endif()

if(KRILL_SANITIZE)
  string(REPLACE "," ";" _krill_sanitizers "${KRILL_SANITIZE}")
  foreach(_s IN LISTS _krill_sanitizers)
    if(NOT _s MATCHES "^(address|undefined|thread)$")
      message(FATAL_ERROR "KRILL_SANITIZE: unknown sanitizer '${_s}' (address, undefined, thread)")
    endif()
  endforeach()
  if("thread" IN_LIST _krill_sanitizers AND "address" IN_LIST _krill_sanitizers)
    message(FATAL_ERROR "KRILL_SANITIZE: thread and address cannot be combined (two builds)")
  endif()
  set(_krill_sanitize_flags -fsanitize=${KRILL_SANITIZE} -fno-omit-frame-pointer)
  if("undefined" IN_LIST _krill_sanitizers)
    list(APPEND _krill_sanitize_flags -fno-sanitize-recover=undefined)
  endif()
  add_compile_options(${_krill_sanitize_flags})
  add_link_options(${_krill_sanitize_flags})
  message(STATUS "Sanitizers: ${KRILL_SANITIZE}")
endif()

if(KRILL_FUZZ)
  # Coverage instrumentation for everything; only the fuzz targets link libFuzzer's main
  # (-fsanitize=fuzzer, fuzz/CMakeLists.txt).
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
