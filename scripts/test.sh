#!/usr/bin/env bash
# The whole test suite: installs what is missing, then four stages, each failing the command when
# it fails:
#   1. build/       (Release) every test, with CTest; arguments go to this ctest (e.g. -R Study)
#   2. build-asan/  AddressSanitizer + LeakSanitizer + UndefinedBehaviorSanitizer: every test
#   3. build-tsan/  ThreadSanitizer: the executor, study and storage tests (labels exec|store|hpo)
#   4. build-fuzz/  (clang) each libFuzzer target for KRILL_FUZZ_SECONDS (default 30) s, from its
#                   seed corpus (scripts/fuzz.sh)
# KRILL_TEST_QUICK=1 runs stage 1 only (for local iteration; CI runs everything).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
stage() {
  echo "krill: ${1} took $((SECONDS - stage_start)) s (total $((SECONDS / 60)) min $((SECONDS % 60)) s)" >&2
  stage_start=$SECONDS
}
stage_start=$SECONDS

scripts/build.sh
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 300 "$@"
stage "build + tests"
[[ "${KRILL_TEST_QUICK:-0}" == 1 ]] && exit 0

# Sanitizer builds: Debug (assertions on) at -O1, as the sanitizers' authors advise. Without MPI:
# Open MPI keeps allocations past MPI_Finalize (LeakSanitizer reports them) and its shared-memory
# transport synchronises in ways ThreadSanitizer cannot see; krill's manager and workers run under
# both sanitizers all the same, on threads over the in-process transport (tests/exec), and a build
# without MPI is tested that way too. Stage 1 runs the MPI tests (tests/mpi, under mpiexec).
# The install test (tests/install: cmake --install, then an outside project on the installed
# krill) runs in stage 1 alone: an installed package carries no -fsanitize flags, so a project
# linking sanitized libraries would not link; sanitizer builds do not register it.
sanitized_build() {  # folder, sanitizers, targets...
  local folder=$1 sanitizers=$2
  shift 2
  cmake -S . -B "$folder" -G Ninja -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" \
    -DKRILL_SANITIZE="$sanitizers" -DKRILL_BUILD_BENCH=OFF -DKRILL_MPI=OFF > /dev/null
  local targets=()
  for t in "$@"; do targets+=(--target "$t"); done
  cmake --build "$folder" -j "$jobs" "${targets[@]}"
}

# Any report fails the test that triggered it (UBSan is fatal at compile time too); the user's own
# options, if any, come last and win.
export ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"

sanitized_build build-asan address,undefined
ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 300
stage "AddressSanitizer + UBSan build + tests"

# Only these layers run threads of their own (LocalExecutor, the study's lock, SQLite writers);
# none of their tests runs OpenMP code, whose runtime (libgomp) TSan cannot see into.
sanitized_build build-tsan thread krill_exec_tests krill_store_tests krill_hpo_tests
ctest --test-dir build-tsan --output-on-failure -j "$jobs" --timeout 300 -L '^(exec|store|hpo)$'
stage "ThreadSanitizer build + tests"

scripts/fuzz.sh -t "${KRILL_FUZZ_SECONDS:-30}"
stage "fuzzing"
