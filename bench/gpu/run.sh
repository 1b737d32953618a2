#!/usr/bin/env bash
# The GPU benchmark of issue 13, as one script for the GPU machine: krill against PyTorch on the
# same GPU, the 784-512-256-10 MLP (ReLU, SGD momentum 0.9), one epoch of 60,000 images.
#
# Usage:
#   bench/gpu/run.sh BUNDLE [MNIST_DIR] [--out FILE]   on the GPU machine
#   bench/gpu/run.sh --cpu-smoke [BUNDLE] [--out FILE] anywhere: the same configurations with
#                                                      --device cpu --limit-steps 5 (plumbing only)
#
# BUNDLE is the folder scripts/gpu-bundle.sh makes (binaries built on a machine with CUDA):
#   BUNDLE/bin/krill_gpu_bench       this benchmark (bench/gpu_bench.cpp)
#   BUNDLE/bin/krill_backend_tests   the backend tests, with the CUDA parity tests (op by op)
#   BUNDLE/bin/krill_train_tests     the training tests, with CUDA training against the CPU's
#   BUNDLE/lib/                      the shared libraries they need (put on LD_LIBRARY_PATH)
# With --cpu-smoke and no BUNDLE, the binaries of this checkout's build/ are used
# (build/bench/krill_gpu_bench, build/tests/krill_{backend,train}_tests if built).
# MNIST_DIR: an IDX folder (train-images-idx3-ubyte[.gz], ...); without it both sides train on
# synthetic data of MNIST's shape (60000 x 784, 10 classes; the same cost per step).
#
# What it runs, in order (each a separate process, its JSON line appended to the results):
#   1. nvidia-smi -L (names the GPU) and the CUDA tests of both test programs
#      (--gtest_filter='*Cuda*'; a skipped test means the bundle's krill saw no GPU, and is
#      reported as such).
#   2. krill: single model at batch 32 and 256 (one epoch each), populations of 16 and 64 at
#      batch 32 (one epoch per member); a small CNN with batch norm, one model and a population
#      of 16, 200 steps each (a CNN population's convolutions run per member).
#   3. krill tune on the device, with MNIST_DIR only (the studies need real data): a study of 64
#      random-search trials trained as one population of 64, and a PBT study of 16 members
#      trained as one population (exploits between its slices), each 1 epoch; each must finish
#      with every trial complete (its log: $OUT/gpu_tune_*.log, its wall time in the run log).
#   4. PyTorch, if a python3 here imports torch with CUDA (the script says which, or why not):
#      single at batch 32 and 256; sequential 16 at batch 32, of which only 4 members are trained
#      and timed, the time scaled by 16/4 (sequential throughput does not depend on P, so the same
#      rate is the baseline for P = 64); batched (bmm) 16 and 64 at batch 32. TF32 is off in
#      PyTorch (FP32 against FP32, as krill's cuBLAS GEMMs).
# Both sides time training only, after one untimed warm-up step (bench/gpu_bench.cpp,
# bench/gpu/torch_population.py). Each run has PER_RUN_S seconds (default 90); one that runs
# out is run again for 60 s with --limit-steps 200, and its rate (model-epochs per second, from
# the steps done) is still comparable: the JSON counts the fractional epochs. Each test program
# has 120 s. Configurations start only while the whole script is under BUDGET_S (default 420 s),
# so it ends within 420 + 90 + 60 = 570 s (under 10 minutes) at worst; expected: 2-3 minutes
# (most of it PyTorch's start-up, about 10 s a process).
#
# Output: the JSON lines in FILE (default: $OUT/gpu_results.jsonl, or ./gpu_results.jsonl without
# $OUT), beside it gpu_run.log (everything printed) and gpu_summary.md (the table of ratios,
# also printed). Exit status 0 when every configuration ran, 1 otherwise.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
PER_RUN_S="${PER_RUN_S:-90}"
BUDGET_S="${BUDGET_S:-420}"

smoke=0
bundle=""
data=""
out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cpu-smoke) smoke=1 ;;
    --out) out="$2"; shift ;;
    --out=*) out="${1#--out=}" ;;
    -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *)
      if [[ -z "$bundle" ]]; then bundle="$1"
      elif [[ -z "$data" ]]; then data="$1"
      else echo "run.sh: too many arguments ($1)" >&2; exit 2; fi ;;
  esac
  shift
done

if [[ $smoke -eq 0 && -z "$bundle" ]]; then
  echo "usage: run.sh BUNDLE [MNIST_DIR] [--out FILE] | run.sh --cpu-smoke [BUNDLE] [--out FILE]" >&2
  exit 2
fi
host_env=(env)
if [[ -n "$bundle" ]]; then
  bench="$bundle/bin/krill_gpu_bench"
  tests=("$bundle/bin/krill_backend_tests" "$bundle/bin/krill_train_tests")
  # Python runs with the machine's own library path: the bundle's Debian libraries (libstdc++,
  # libgomp, libssl...) are older than an Ubuntu 24.04 torch's extension modules want.
  if [[ -n "${LD_LIBRARY_PATH+set}" ]]; then host_env=(env "LD_LIBRARY_PATH=$LD_LIBRARY_PATH")
  else host_env=(env -u LD_LIBRARY_PATH); fi
  export LD_LIBRARY_PATH="$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # cuBLAS is not in the bundle: krill looks for it on the library path, then in
  # /usr/local/cuda/lib64. A machine whose CUDA libraries came with pip (PyTorch's nvidia-cublas
  # wheel) has them elsewhere: that folder goes on the library path.
  if [[ ! -e /usr/local/cuda/lib64/libcublas.so.13 ]]; then
    cublas="$(find /usr/local /opt /usr/lib -name 'libcublas.so.13' 2>/dev/null | head -n 1)"
    [[ -n "$cublas" ]] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$(dirname "$cublas")"
  fi
else
  bench="$root/build/bench/krill_gpu_bench"
  tests=("$root/build/tests/krill_backend_tests" "$root/build/tests/krill_train_tests")
fi
if [[ ! -x "$bench" ]]; then
  echo "run.sh: $bench is missing (build the target krill_gpu_bench, or pass the bundle)" >&2
  exit 2
fi
if [[ -n "$data" && ! -d "$data" ]]; then
  echo "run.sh: the MNIST folder $data does not exist" >&2
  exit 2
fi
[[ -n "$data" ]] && data="$(cd "$data" && pwd)"  # the study files are written elsewhere

if [[ $smoke -eq 1 ]]; then
  device=cpu
  limit=(--limit-steps 5)
else
  device=cuda
  limit=()
fi
data_arg=()
[[ -n "$data" ]] && data_arg=(--data "$data")

results="${out:-${OUT:-.}/gpu_results.jsonl}"
mkdir -p "$(dirname "$results")"
results="$(cd "$(dirname "$results")" && pwd)/$(basename "$results")"
outdir="$(dirname "$results")"
log="$outdir/gpu_run.log"
summary="$outdir/gpu_summary.md"
: >"$results"
exec > >(tee "$log") 2>&1

start=$SECONDS
failures=0
say() { printf '== %s\n' "$*"; }

say "krill GPU benchmark (issue 13), $(date -u '+%Y-%m-%d %H:%M UTC'), device $device$([[ $smoke -eq 1 ]] && echo ', CPU SMOKE TEST: 5 steps per run, the numbers mean nothing')"
say "binaries: $bench; data: ${data:-synthetic (60000 x 784, 10 classes)}; results: $results"

# 1. The GPU and the parity tests.
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi -L
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true
else
  say "nvidia-smi not found$([[ $smoke -eq 1 ]] && echo ' (expected: CPU smoke test)')"
fi
for test_program in "${tests[@]}"; do
  name="$(basename "$test_program")"
  if [[ ! -x "$test_program" ]]; then
    say "no $test_program: its CUDA tests not run"
    [[ $smoke -eq 0 ]] && failures=$((failures + 1))
    continue
  fi
  test_log="$outdir/gpu_${name}.log"
  say "CUDA tests: $test_program --gtest_filter='*Cuda*'"
  timeout 120 "$test_program" --gtest_filter='*Cuda*' >"$test_log" 2>&1
  rc=$?
  grep -E '^\[  (PASSED|SKIPPED|FAILED) ' "$test_log" || tail -5 "$test_log"
  skipped=$(grep -c '^\[  SKIPPED \]' "$test_log")
  if [[ $rc -ne 0 ]]; then
    say "$name: CUDA tests FAILED (status $rc): $test_log"
    grep -B2 -A8 'Failure' "$test_log" | head -60
    failures=$((failures + 1))
  elif [[ $skipped -gt 0 ]]; then
    say "$name: CUDA tests SKIPPED ($skipped lines): this krill sees no usable GPU; the reason:"
    grep -m1 -A1 'Skipped' "$test_log" || true
    [[ $smoke -eq 0 ]] && failures=$((failures + 1))
  elif grep -q '^\[  PASSED  \] 0 tests' "$test_log"; then
    say "no CUDA test in $test_program: it was built without the CUDA backend"
    [[ $smoke -eq 0 ]] && failures=$((failures + 1))
  else
    say "$name: CUDA tests passed"
  fi
done

# One configuration: runs "$@" (which prints one JSON line) within PER_RUN_S seconds, appends the
# JSON line to the results; on a timeout runs it again with --limit-steps 200.
run_config() {
  local name="$1"
  shift
  if (( SECONDS - start > BUDGET_S )); then
    say "$name: not run, the budget of ${BUDGET_S}s is spent"
    failures=$((failures + 1))
    return
  fi
  say "$name: $*"
  local line rc
  line="$(timeout "$PER_RUN_S" "$@")"
  rc=$?
  if [[ $rc -eq 124 ]]; then
    say "$name: over ${PER_RUN_S}s; again with --limit-steps 200 (its rate counts the steps done)"
    line="$(timeout 60 "$@" --limit-steps 200)"
    rc=$?
  fi
  if [[ $rc -ne 0 || "$line" != "{"* ]]; then
    say "$name: FAILED (status $rc)"
    failures=$((failures + 1))
    return
  fi
  echo "$line"
  echo "$line" >>"$results"
}

# 2. krill. On a device it cannot have, krill_gpu_bench says why in one line (status 2): then the
# other krill runs would say the same and are left out.
krill=("$bench" --device "$device" "${data_arg[@]}" "${limit[@]}")
if ! why="$("$bench" --device "$device" --check 2>&1)"; then
  say "krill cannot use the device: $why"
  failures=$((failures + 6))
else
  run_config "krill single b32" "${krill[@]}" --mode single --batch 32
  run_config "krill single b256" "${krill[@]}" --mode single --batch 256
  run_config "krill population 16 b32" "${krill[@]}" --mode population --members 16 --batch 32
  run_config "krill population 64 b32" "${krill[@]}" --mode population --members 64 --batch 32
  # A small CNN (its convolutions and batch norms per member in a population), 200 steps each.
  cnn=(--model "conv:16:5,batchnorm,relu,maxpool:2,conv:32:5,relu,maxpool:2,flatten,dense:128,relu,dense:10")
  [[ $smoke -eq 0 ]] && cnn+=(--limit-steps 200)
  run_config "krill cnn single b32" "${krill[@]}" "${cnn[@]}" --mode single --batch 32
  run_config "krill cnn population 16 b32" "${krill[@]}" "${cnn[@]}" --mode population --members 16 --batch 32
fi

# 3. krill tune: whole studies on the device (the executor's populations, PBT's exploits).
krill_cli="$(dirname "$bench")/krill"
[[ -z "$bundle" ]] && krill_cli="$root/build/apps/krill/krill"
tune_study() {
  local name="$1" trials="$2"
  shift 2
  if (( SECONDS - start > BUDGET_S )); then
    say "krill tune $name: not run, the budget of ${BUDGET_S}s is spent"
    failures=$((failures + 1))
    return
  fi
  local dir="$outdir/tune-$name"
  rm -rf "$dir"
  mkdir -p "$dir"
  {
    echo "study: gpu-$name"
    echo "data: $data"
    echo "validation: 0.1"
    echo "objective: val_accuracy"
    echo "seed: 1"
    echo "device: $device"
    echo "model: {hidden: [512, 256], activation: relu}"
    echo "training: {optimizer: sgd, batch: 32, epochs: 1, eval_every: 400}"
    printf '%s\n' "$@"
  } >"$dir/study.yaml"
  say "krill tune $name: $krill_cli tune $dir/study.yaml (${trials} trials)"
  local t0=$SECONDS
  timeout "$PER_RUN_S" "$krill_cli" tune "$dir/study.yaml" "${tune_limit[@]}" \
    >"$outdir/gpu_tune_$name.log" 2>&1
  local rc=$?
  tail -n 12 "$outdir/gpu_tune_$name.log"
  local expected=$trials
  [[ $smoke -eq 1 ]] && expected=4
  if [[ $rc -ne 0 ]]; then
    say "krill tune $name: FAILED (status $rc, $((SECONDS - t0)) s): $outdir/gpu_tune_$name.log"
    failures=$((failures + 1))
  elif ! grep -Eq "^states: +$expected completed" "$outdir/gpu_tune_$name.log"; then
    say "krill tune $name: FAILED: not all $expected trials completed ($(grep -m1 '^states:' "$outdir/gpu_tune_$name.log"))"
    failures=$((failures + 1))
  else
    say "krill tune $name: done in $((SECONDS - t0)) s (wall, start-up and data loading included)"
  fi
}
if [[ -z "$data" ]]; then
  say "krill tune: not run (it needs MNIST_DIR)"
elif [[ ! -x "$krill_cli" ]]; then
  say "krill tune: no $krill_cli"
  failures=$((failures + 1))
else
  tune_limit=()
  [[ $smoke -eq 1 ]] && tune_limit=(--trials 4)
  tune_study random 64 "trials: 64" "sampler: random" "population: 64" \
    "search: {lr: {type: float, low: 0.001, high: 0.3, log: true}, momentum: {type: float, low: 0.0, high: 0.95}}"
  if [[ $smoke -eq 0 ]]; then
    tune_study pbt 16 "population: 16" \
      "search: {lr: {type: float, low: 0.001, high: 0.3, log: true}}" \
      "pbt: {population: 16, interval: 400, evolve: [lr]}"
  fi
fi

# 4. PyTorch, if importable (with CUDA on the GPU machine).
python=""
for p in /usr/bin/python3 python3 python; do
  if command -v "$p" >/dev/null 2>&1 && "${host_env[@]}" "$p" -c 'import torch' >/dev/null 2>&1; then
    python="$(command -v "$p")"
    break
  fi
done
if [[ -z "$python" ]]; then
  say "PyTorch: no python3 here imports torch$(command -v python3 >/dev/null || echo ' (no python3 at all)'): the PyTorch baselines are NOT run"
  failures=$((failures + 5))
else
  say "PyTorch: $("${host_env[@]}" "$python" -c 'import sys, torch; print(sys.executable, "torch", torch.__version__, "CUDA", torch.version.cuda, "GPU available:", torch.cuda.is_available())' 2>&1)"
  if [[ $device == cuda ]] && ! "${host_env[@]}" "$python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
    say "PyTorch sees no GPU (a CPU-only torch, or no driver): the PyTorch baselines are NOT run"
    failures=$((failures + 5))
  else
    torch_run=("${host_env[@]}" "$python" "$here/torch_population.py" --device "$device" "${data_arg[@]}" "${limit[@]}")
    run_config "torch single b32" "${torch_run[@]}" --mode single --batch 32
    run_config "torch single b256" "${torch_run[@]}" --mode single --batch 256
    run_config "torch sequential 16 b32 (4 timed, x4)" "${torch_run[@]}" --mode sequential --members 16 --timed-members 4 --batch 32
    run_config "torch batched 16 b32" "${torch_run[@]}" --mode batched --members 16 --batch 32
    run_config "torch batched 64 b32" "${torch_run[@]}" --mode batched --members 64 --batch 32
  fi
fi

# 5. The summary: rates (model-epochs per second) and the ratios the issue asks for.
awk -v smoke="$smoke" '
  function val(line, key,   s) {
    if (!match(line, "\"" key "\": *[^,}]*")) return ""
    s = substr(line, RSTART, RLENGTH); sub(/^"[^"]*": */, "", s); gsub(/"/, "", s); return s
  }
  { k = val($0, "engine") " " val($0, "mode") " " val($0, "batch") " " val($0, "members")
    if (val($0, "model_kind") == "conv") k = k " cnn"
    rate[k] = val($0, "model_epochs_per_second"); steps[k] = val($0, "steps") }
  function r(k) { return (k in rate) ? rate[k] + 0 : 0 }
  function cell(k) { return (k in rate) ? sprintf("%.3f (%s steps)", r(k), steps[k]) : "-" }
  function ratio(a, b, goal) {
    if (r(a) == 0 || r(b) == 0) return "-"
    return sprintf("%.2fx%s", r(a) / r(b), goal ? sprintf(" (goal >= %dx: %s)", goal, r(a) / r(b) >= goal ? "met" : "NOT met") : "")
  }
  END {
    if (smoke) print "CPU SMOKE TEST (5 steps per run): the plumbing, not a measurement\n"
    print "Model-epochs per second (one model: 1 / seconds per epoch); higher is better."
    print ""
    print "| configuration | krill | PyTorch | krill / PyTorch |"
    print "|---|---|---|---|"
    printf "| single, batch 32 | %s | %s | %s |\n", cell("krill single 32 1"), cell("torch single 32 1"), ratio("krill single 32 1", "torch single 32 1", 0)
    printf "| single, batch 256 | %s | %s | %s |\n", cell("krill single 256 1"), cell("torch single 256 1"), ratio("krill single 256 1", "torch single 256 1", 0)
    printf "| population 16, batch 32, vs PyTorch sequential | %s | %s | %s |\n", cell("krill population 32 16"), cell("torch sequential 32 16"), ratio("krill population 32 16", "torch sequential 32 16", 50)
    printf "| population 16, batch 32, vs PyTorch batched (bmm) | %s | %s | %s |\n", cell("krill population 32 16"), cell("torch batched 32 16"), ratio("krill population 32 16", "torch batched 32 16", 2)
    printf "| population 64, batch 32, vs PyTorch sequential (the rate of 16) | %s | %s | %s |\n", cell("krill population 32 64"), cell("torch sequential 32 16"), ratio("krill population 32 64", "torch sequential 32 16", 50)
    printf "| population 64, batch 32, vs PyTorch batched (bmm) | %s | %s | %s |\n", cell("krill population 32 64"), cell("torch batched 32 64"), ratio("krill population 32 64", "torch batched 32 64", 2)
    printf "| CNN population 16, batch 32, vs one CNN at a time (krill) | %s | %s | %s |\n", cell("krill population 32 16 cnn"), cell("krill single 32 1 cnn"), ratio("krill population 32 16 cnn", "krill single 32 1 cnn", 0)
    print ""
    print "PyTorch sequential: 4 of the 16 members trained and timed, the time scaled by 4."
    printf "CNN: conv:16:5,batchnorm,relu,maxpool:2,conv:32:5,relu,maxpool:2,flatten,dense:128,relu,dense:10, %s steps; the PyTorch column holds krill'"'"'s single-model rate.\n", smoke ? 5 : 200
  }' "$results" >"$summary"
echo
cat "$summary"
say "done in $((SECONDS - start)) s; $failures configuration(s) or check(s) missing or failed; results in $results"
[[ $failures -eq 0 ]]
