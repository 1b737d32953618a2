#!/usr/bin/env bash
# Population Based Training's cost (issue "PBT of learning rates"): how much the exploit/explore
# machinery slows the members' training. The same 4 members (the same sampled learning rates,
# the same data, 3000 steps, a curve point every 100 steps) trained
#   - as a PBT population (a generation at every curve point: 29 generations, each ranking the
#     members, saving every member's state to disk, copying the fittest's state into the least
#     fit), and
#   - as 4 independent trials of a plain study (the same curve points and evaluations),
# locally (4 worker threads of 1 thread each) and under `mpiexec -n 5` (4 worker ranks). Wall
# times of the whole study, medians of interleaved repeats, and the ratio PBT / plain.
# Run it on an otherwise idle machine: bench/pbt.sh [repeats]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-5}
scripts/build.sh > /dev/null
krill=$PWD/build/apps/krill/krill
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}, $(nproc) cores"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common="data: fashion-mnist
subset: 10000
validation: 0.2
seed: 5
model:
  hidden: \"256,128\"
training:
  optimizer: sgd
  batch: 32
  iterations: 3000
  eval_every: 100
search:
  lr: {type: float, low: 0.001, high: 0.3, log: true}
"
printf 'study: pbt\n%spbt:\n  population: 4\n  interval: 100\n' "$common" > "$work/pbt.yaml"
printf 'study: plain\n%strials: 4\nworkers: 4\n' "$common" > "$work/plain.yaml"

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }
seconds() { local t0; t0=$(date +%s.%N); "$@" > /dev/null 2>&1; elapsed "$t0" "$(date +%s.%N)"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
report() {  # label, then the times of pbt and plain
  local label=$1; shift
  local p q
  p=$(printf '%s\n' "${pbt_times[@]}" | median)
  q=$(printf '%s\n' "${plain_times[@]}" | median)
  echo "$label PBT:   ${pbt_times[*]} s (median $p)"
  echo "$label plain: ${plain_times[*]} s (median $q)"
  awk -v p="$p" -v q="$q" -v l="$label" 'BEGIN { printf "%s PBT / plain = %.3f\n", l, p / q }'
}

pbt_times=() plain_times=()
for ((i = 0; i < repeats; ++i)); do
  rm -f "$work"/*.db*
  pbt_times+=("$(seconds "$krill" tune "$work/pbt.yaml" --threads 1 --mpi off -q)")
  plain_times+=("$(seconds "$krill" tune "$work/plain.yaml" --threads 1 --mpi off -q)")
done
report "local (4 threads)"

if [[ -x $PWD/build/bench/krill_mpi_manager_bench ]] && command -v mpiexec > /dev/null; then  # built with MPI
  mpi=(mpiexec)
  if mpiexec --version 2>&1 | grep -qE "Open MPI|OpenRTE|open-mpi\.org"; then
    mpi+=(--oversubscribe --bind-to none --mca pml ob1 --mca btl self,vader)
    [[ $(id -u) -eq 0 ]] && mpi+=(--allow-run-as-root)
  fi
  pbt_times=() plain_times=()
  for ((i = 0; i < repeats; ++i)); do
    rm -f "$work"/*.db*
    pbt_times+=("$(seconds "${mpi[@]}" -n 5 "$krill" tune "$work/pbt.yaml" --threads 1 -q)")
    plain_times+=("$(seconds "${mpi[@]}" -n 5 "$krill" tune "$work/plain.yaml" --threads 1 -q)")
  done
  report "mpiexec -n 5"
else
  echo "krill was built without MPI (or mpiexec is missing): the MPI half is skipped"
fi
