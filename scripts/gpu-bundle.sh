#!/usr/bin/env bash
# Builds krill with the CUDA backend and packs it for a GPU machine that has the NVIDIA driver and
# CUDA 13 but none of this machine's packages (e.g. Ubuntu 24.04: its glibc is newer than
# Debian 12's, so these binaries run there):
#
#   scripts/gpu-bundle.sh OUTDIR
#     OUTDIR/bin/krill_backend_tests, OUTDIR/bin/krill_train_tests, OUTDIR/bin/krill,
#     OUTDIR/bin/krill_gpu_bench
#     OUTDIR/gpu/   bench/gpu's run.sh and torch_population.py: the GPU benchmark, run there as
#                   `OUTDIR/gpu/run.sh OUTDIR [MNIST_DIR]` (parity tests, then krill and PyTorch)
#     OUTDIR/lib/   every shared library `ldd` lists for them, except glibc's own (libc, libm,
#                   libpthread, libdl, librt, ld-linux), the driver (libcuda) and cuBLAS
#                   (libcublas, libcublasLt: 570 MiB; the GPU machine's CUDA 13 has them)
#     OUTDIR/run.sh runs the CUDA tests (op parity, then training against the CPU), then the
#                   whole backend suite, on that machine
#   and OUTDIR.tar.gz, the same folder packed (about 21 MiB against 61): what a device call
#   carries, since the working tree and what it carries travel within 64 MiB. There:
#     tar xzf OUTDIR.tar.gz -C /tmp && /tmp/$(basename OUTDIR)/gpu/run.sh /tmp/$(basename OUTDIR)
#
# The build (KRILL_BUNDLE_BUILD, default build-gpu-bundle) is Release, for the architecture's
# baseline (KRILL_NATIVE=OFF), CUDA on, and without oneDNN, MPI and PostgreSQL, whose libraries
# (oneDNN alone is 38 MiB) would take the bundle past 60 MiB: the CPU side of the parity tests is
# then im2col + OpenBLAS, the CPU backend's own path. Jobs: KRILL_BUNDLE_JOBS (default 2).
set -euo pipefail
out=${1:?usage: scripts/gpu-bundle.sh OUTDIR}
cd "$(dirname "$0")/.."
build=${KRILL_BUNDLE_BUILD:-build-gpu-bundle}

configure_log=$(cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKRILL_NATIVE=OFF \
  -DKRILL_CUDA=ON -DKRILL_ONEDNN=OFF -DKRILL_MPI=OFF -DKRILL_POSTGRES=OFF -DKRILL_BUILD_BENCH=ON)
if ! grep -q "the cuda backend is built" <<< "$configure_log"; then
  grep "CUDA:" <<< "$configure_log" >&2 || true
  echo "gpu-bundle: this build has no CUDA backend (nvcc and cuBLAS are needed)" >&2
  exit 1
fi
nice cmake --build "$build" -j "${KRILL_BUNDLE_JOBS:-2}" --target krill_backend_tests \
  krill_train_tests krill krill_gpu_bench

mkdir -p "$out/bin" "$out/lib"
binaries=("$build/tests/krill_backend_tests" "$build/tests/krill_train_tests"
  "$build/apps/krill/krill" "$build/bench/krill_gpu_bench")
cp "${binaries[@]}" "$out/bin/"
mkdir -p "$out/gpu"
cp bench/gpu/run.sh bench/gpu/torch_population.py "$out/gpu/"
strip "$out/bin/"*
left_out='^(libc|libm|libpthread|libdl|librt|ld-linux-x86-64|libcuda|libcublas|libcublasLt)\.so'
for binary in "${binaries[@]}"; do
  if ldd "$binary" | grep -q "not found"; then
    ldd "$binary" | grep "not found" >&2
    exit 1
  fi
  ldd "$binary" | awk '/=> \// { print $3 }' | while read -r lib; do
    if ! basename "$lib" | grep -Eq "$left_out"; then cp -L "$lib" "$out/lib/"; fi
  done
done

cat > "$out/run.sh" <<'EOF'
#!/bin/sh
# The CUDA tests (they must run, not skip), then every backend test. cuBLAS comes
# from this machine's CUDA 13; the other libraries from lib/.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cuda_libs=""
for dir in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda/lib; do
  if [ -e "$dir/libcublas.so.13" ]; then cuda_libs="$dir"; break; fi
done
if [ -z "$cuda_libs" ]; then echo "run.sh: no libcublas.so.13 under /usr/local/cuda" >&2; fi
export LD_LIBRARY_PATH="$here/lib${cuda_libs:+:$cuda_libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
nvidia-smi -L || true
log=$(mktemp)
status=0
for tests in krill_backend_tests krill_train_tests; do
  # A hang must not take the device's whole time: each program has 180 s.
  timeout 180 "$here/bin/$tests" --gtest_filter='Cuda*' "$@" > "$log" 2>&1 || status=1
  cat "$log"
  if grep -q '^\[  SKIPPED \]' "$log"; then
    echo "run.sh: the CUDA tests of $tests were skipped (no usable GPU?): see above" >&2
    status=1
  fi
done
timeout 180 "$here/bin/krill_backend_tests" "$@" > "$log" 2>&1 || { cat "$log"; status=1; }
tail -n 3 "$log"
rm -f "$log"
exit $status
EOF
chmod +x "$out/run.sh"
du -sh "$out"
du -sh "$out/bin" "$out/lib"
out_abs=$(cd "$out" && pwd)
tar czf "$out_abs.tar.gz" -C "$(dirname "$out_abs")" "$(basename "$out_abs")"
du -sh "$out_abs.tar.gz"
