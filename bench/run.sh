#!/usr/bin/env bash
# Builds krill (with benchmarks), installs PyTorch from Debian if missing, and runs the krill vs
# PyTorch training benchmark. Arguments go to bench/train_vs_torch.py (e.g. --repeats 5).
# Run it on an otherwise idle machine: both sides are timed in this one run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh python3-torch
scripts/build.sh
exec /usr/bin/python3 bench/train_vs_torch.py "$@"
