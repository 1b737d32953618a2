#!/usr/bin/env bash
# The main job on the embedded default: installs what is missing, builds, and runs the quick-start
# tuning study on Fashion-MNIST (examples/quickstart.yaml: random search over the learning rate,
# momentum and batch size of the 784-512-256-10 MLP, SQLite storage, local workers). Running it
# again resumes the study from its database. Extra arguments go to `krill tune`
# (e.g. --trials 24 to extend it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
exec build/apps/krill/krill tune examples/quickstart.yaml "$@"
