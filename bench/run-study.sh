#!/usr/bin/env bash
# Builds krill, installs PyTorch and Optuna from Debian if missing, and runs the krill tune vs
# Optuna benchmark (bench/study_vs_optuna.py; arguments go to it), then the per-trial overhead
# micro-benchmark. Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh python3-torch python3-optuna
scripts/build.sh
build/bench/krill_study_bench --benchmark_min_time=1
exec /usr/bin/python3 bench/study_vs_optuna.py "$@"
