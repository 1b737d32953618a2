#!/usr/bin/env bash
# Distributed studies (issue "Distributed studies over MPI"), on this machine:
#  1. the manager's throughput: trials handed out per second with 2, 4 and 8 ranks and a trivial
#     objective, SQLite storage, one transaction per message (batch 1) and group commit (batch
#     64); and the round trip of a report and its decision (3 reports per trial);
#  2. real trials: the quick-start study (12 trials of an MLP on Fashion-MNIST) under
#     `mpiexec -n 3` (rank 0 manages, 2 ranks train, 1 thread each) against `krill tune
#     --workers 2` on the same cores; medians of interleaved repeats, and the ratio MPI / local.
# Run it on an otherwise idle machine: bench/mpi.sh [repeats]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-5}
scripts/build.sh > /dev/null
krill=$PWD/build/apps/krill/krill
bench=$PWD/build/bench/krill_mpi_manager_bench
[[ -x $bench ]] || { echo "bench/mpi.sh: $bench is missing (krill built without MPI?)" >&2; exit 1; }
mpi=(mpiexec)
if mpiexec --version 2>&1 | grep -qE "Open MPI|OpenRTE|open-mpi\.org"; then
  mpi+=(--oversubscribe --bind-to none)  # 8 ranks on 2 cores; no rank pinned to a busy core
  [[ $(id -u) -eq 0 ]] && mpi+=(--allow-run-as-root)
fi
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}, $(nproc) cores"

echo "== manager throughput (trivial objective, SQLite)"
for ranks in 2 4 8; do
  for batch in 1 64; do
    "${mpi[@]}" -n "$ranks" "$bench" --trials 20000 --batch "$batch"
  done
done
for ranks in 2 4 8; do
  "${mpi[@]}" -n "$ranks" "$bench" --trials 5000 --reports 3
done

echo "== real trials: examples/quickstart.yaml"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed -e "s/^study: .*/study: mpi-bench/" examples/quickstart.yaml > "$work/q.yaml"
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }
seconds() { local t0; t0=$(date +%s.%N); "$@" > /dev/null 2>&1; elapsed "$t0" "$(date +%s.%N)"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# Open MPI's start-up with its default components (it probes for InfiniBand, UCX, TCP...) against
# shared memory alone, what a one-node job needs.
sm=()
mpiexec --version 2>&1 | grep -qE "Open MPI|OpenRTE|open-mpi\.org" && sm=(--mca pml ob1 --mca btl self,vader)
local_times=() mpi_times=() sm_times=()
for ((i = 0; i < repeats; ++i)); do
  rm -f "$work"/*.db*
  local_times+=("$(seconds "$krill" tune "$work/q.yaml" --workers 2 --mpi off -q)")
  rm -f "$work"/*.db*
  mpi_times+=("$(seconds "${mpi[@]}" -n 3 "$krill" tune "$work/q.yaml" -q)")
  rm -f "$work"/*.db*
  sm_times+=("$(seconds "${mpi[@]}" "${sm[@]}" -n 3 "$krill" tune "$work/q.yaml" -q)")
done
l=$(printf '%s\n' "${local_times[@]}" | median)
m=$(printf '%s\n' "${mpi_times[@]}" | median)
s=$(printf '%s\n' "${sm_times[@]}" | median)
echo "local --workers 2:             ${local_times[*]} s (median $l)"
echo "mpiexec -n 3:                  ${mpi_times[*]} s (median $m)"
echo "mpiexec -n 3 ${sm[*]}: ${sm_times[*]} s (median $s)"
awk -v l="$l" -v m="$m" -v s="$s" 'BEGIN { printf "MPI / local = %.3f; shared memory only: %.3f\n", m / l, s / l }'
# Start-up alone: MPI_Init and MPI_Finalize of 3 ranks (krill tune of a finished study).
startup=()
for ((i = 0; i < repeats; ++i)); do
  startup+=("$(seconds "${mpi[@]}" -n 3 "$krill" tune "$work/q.yaml" -q)/$(seconds "${mpi[@]}" "${sm[@]}" -n 3 "$krill" tune "$work/q.yaml" -q)/$(seconds "$krill" tune "$work/q.yaml" --mpi off -q)")
done
echo "a finished study (start-up and wind-down only), MPI/MPI shared memory/local: ${startup[*]} s"
