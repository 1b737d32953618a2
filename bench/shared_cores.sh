#!/usr/bin/env bash
# Processes that share cores: the time for a study run by one `krill tune` with 2 workers, against
# the same study run by two `krill tune` processes joined on one database, each started with its
# defaults (the second 0.3 s after the first). Two study files: workers 1 (each process would
# take every core for one trial: the case where OpenMP threads of two processes fight) and
# workers 2. Each measurement is repeated, interleaved; the script prints the median times and the
# ratio joined / one. Run it on an otherwise idle machine: bench/shared_cores.sh [repeats]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-5}
scripts/build.sh > /dev/null
krill=$PWD/build/apps/krill/krill
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for workers in 1 2; do
  sed -e "s/^workers: .*/workers: $workers/" \
      -e "s/^study: .*/study: shared-$workers/" -e "s|^data: .*|data: fashion-mnist|" \
      examples/quickstart.yaml > "$work/shared-$workers.yaml"
done

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }
seconds() { local t0; t0=$(date +%s.%N); "$@" > /dev/null; elapsed "$t0" "$(date +%s.%N)"; }
one() {  # one process, 2 workers
  rm -f "$work"/shared-"$1".db*
  seconds "$krill" tune "$work/shared-$1.yaml" --workers 2 -q
}
joined() {  # two processes, their defaults; the time until both have ended
  rm -f "$work"/shared-"$1".db*
  local t0
  t0=$(date +%s.%N)
  "$krill" tune "$work/shared-$1.yaml" -q > /dev/null &
  local first=$!
  sleep 0.3
  "$krill" tune "$work/shared-$1.yaml" -q > /dev/null
  wait "$first"
  elapsed "$t0" "$(date +%s.%N)"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

echo "OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset} GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-unset (krill sets its own)}" \
     "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} cores=$(nproc)"
for workers in 1 2; do
  one_times=() joined_times=()
  for ((r = 0; r < repeats; r++)); do
    one_times+=("$(one "$workers")")
    joined_times+=("$(joined "$workers")")
  done
  a=$(printf '%s\n' "${one_times[@]}" | median)
  b=$(printf '%s\n' "${joined_times[@]}" | median)
  printf 'study file workers %s: one process (2 workers) %.2f s, two joined processes %.2f s, ratio %.2f\n' \
    "$workers" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { print b / a }')"
done
