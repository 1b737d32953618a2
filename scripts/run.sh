#!/usr/bin/env bash
# The main job on the embedded default: installs what is missing, builds, and trains the
# 784-512-256-10 MLP on Fashion-MNIST with the poster's dynamic learning rate (5% less every 100
# iterations). Extra arguments go to `krill train` (e.g. --epochs 1 --json).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
exec build/apps/krill/krill train --data fashion-mnist --model mlp:512,256 --lr 0.05 \
  --momentum 0.9 --batch 32 --epochs 5 --schedule step:100:0.95 --seed 1 "$@"
