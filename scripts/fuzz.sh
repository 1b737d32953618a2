#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang, in build-fuzz/) and runs each for a bounded time,
# starting from a copy of its seed corpus fuzz/corpus/<target>/ (the repository is not modified).
# A crash, an uncaught exception, a leak, a timeout (one input > 10 s) or running out of memory
# fails the run; the input that did it is kept in build-fuzz/findings/.
#
#   scripts/fuzz.sh                      # every target, 30 s each
#   scripts/fuzz.sh -t 3600 study_file   # one target for an hour
#
# Targets: idx, checkpoint, study_file, storage, protocol. Prints, per target, the inputs run and
# the rate.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
if [[ "${1:-}" == "-t" ]]; then
  seconds=$2
  shift 2
fi
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(idx checkpoint study_file storage protocol)

# The largest input each target is given: a few times its largest seed.
declare -A max_len=([idx]=8192 [checkpoint]=4096 [study_file]=4096 [storage]=32768
                   [protocol]=1024)

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" -DKRILL_FUZZ=ON -DKRILL_BUILD_TESTS=OFF \
  -DKRILL_BUILD_BENCH=OFF -DKRILL_MPI=OFF > /dev/null  # the protocol's decoder needs no MPI
cmake --build build-fuzz -j "$(nproc)" --target krill_fuzzers

work=$(mktemp -d)
# The scratch files that hold each input (idx, storage) go to a tmpfs when there is one: SQLite
# syncs a new database to disk, which on a busy disk makes the storage target ten times slower.
scratch=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$work" "$scratch"' EXIT
findings=$PWD/build-fuzz/findings
mkdir -p "$findings"
summary=()
failed=0
for target in "${targets[@]}"; do
  [[ -n "${max_len[$target]:-}" ]] || { echo "krill: no fuzz target '$target'" >&2; exit 2; }
  mkdir -p "$work/$target/corpus" "$scratch/$target"
  cp -r "fuzz/corpus/$target/." "$work/$target/corpus/"
  echo "krill: fuzzing $target for ${seconds} s" >&2
  status=0
  TMPDIR="$scratch/$target" "build-fuzz/fuzz/krill_${target}_fuzzer" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="${max_len[$target]}" \
    -print_final_stats=1 -artifact_prefix="$findings/$target-" \
    "$work/$target/corpus" > "$work/$target.log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$target.log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$target.log")
  corpus=$(ls "$work/$target/corpus" | wc -l)
  if [[ $status -ne 0 ]]; then
    failed=1
    tail -n 60 "$work/$target.log" >&2
    summary+=("$(printf '%-11s FAILED (exit %d): see above and %s' "$target" "$status" "$findings")")
  else
    summary+=("$(printf '%-11s %9s runs  %6s/s  corpus %s' "$target" "${runs:-?}" "${rate:-?}" "$corpus")")
  fi
done
printf 'krill: fuzz %s\n' "${summary[@]}" >&2
exit $failed
