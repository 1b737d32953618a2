#!/usr/bin/env bash
# Regenerates the seed corpus fuzz/corpus/<target>/ (run it after a change of a file format, then
# commit the result): binary seeds written by krill's own code (fuzz/seeds.cpp: IDX files,
# checkpoints, study databases, manager/worker messages, valid and broken), and study files from
# examples/ and experiments/ plus a few broken ones. Builds build-fuzz/ (clang) for the generator.
set -euo pipefail
cd "$(dirname "$0")/.."

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" -DKRILL_FUZZ=ON -DKRILL_BUILD_TESTS=OFF \
  -DKRILL_BUILD_BENCH=OFF > /dev/null
cmake --build build-fuzz -j "$(nproc)" --target krill_fuzz_seeds

rm -rf fuzz/corpus
build-fuzz/fuzz/krill_fuzz_seeds fuzz/corpus

yaml=fuzz/corpus/study_file
mkdir -p "$yaml"
cp examples/*.yaml "$yaml/"
for f in experiments/early-stopping/*.yaml; do cp "$f" "$yaml/early-stopping-$(basename "$f")"; done
printf 'data: mnist\ntrials: 4\nsearch:\n  lr: {type: float, low: 0.1\nseed: 1\n' > "$yaml/broken-flow.yaml"
printf 'data: mnist\ntrails: 4\nsearch:\n  learning_rate: {type: float, low: 0.001, high: 0.1}\n' \
  > "$yaml/broken-keys.yaml"
printf 'data: mnist\ntrials: 4\n---\nseed: 1\n' > "$yaml/broken-two-documents.yaml"
printf -- '- data\n- trials\n' > "$yaml/broken-list.yaml"
find fuzz/corpus -type f | sort | xargs ls -l | awk '{print $5, $9}'
