#!/usr/bin/env bash
# Installs what is missing, then configures and builds krill in build/ (Release).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Configures every time (a second or two): picks up what install-deps.sh just installed.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j "$(nproc)"
