#!/usr/bin/env bash
# Installs the Debian packages krill needs to build, test and run its default job, when any is
# missing; does nothing when all are present. Usage: scripts/install-deps.sh [extra packages...]
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libopenblas-openmp-dev  # BLAS (OpenMP build: one thread pool shared with krill's loops)
  libdnnl-dev             # oneDNN (OpenMP build): convolutions and the larger GEMMs; optional
  ocl-icd-opencl-dev      # OpenCL headers and loader: Debian's dnnl-config.cmake requires them
  zlib1g-dev libfmt-dev libcli11-dev
  libsqlite3-dev libyaml-cpp-dev libboost-dev
  libpq-dev               # libpq: studies on PostgreSQL (postgresql://); optional to build krill
  postgresql              # the server of the PostgreSQL tests (scripts/pg-test-server.sh)
  python3-psycopg2        # Optuna's RDB storage on PostgreSQL, for the benchmark against Optuna
  libgtest-dev libgmock-dev libbenchmark-dev
  libcpp-httplib-dev      # the HTTP server of `krill report --serve`
  openmpi-bin libopenmpi-dev  # MPI studies (`mpirun -np N krill tune`); optional to build krill
  dataset-fashion-mnist   # the default data set, in /usr/share/datasets/fashion-mnist
  chromium                # headless browser for the report test (tests/report/browser)
  # scripts/test.sh's sanitizer builds use g++'s ASan/UBSan/TSan runtimes (libasan8, libubsan1,
  # libtsan2: dependencies of g++); its fuzzing stage needs clang with libFuzzer, clang's OpenMP
  # (omp.h and libomp for -fopenmp), and llvm's llvm-symbolizer for readable stack traces.
  clang libclang-rt-14-dev libomp-14-dev llvm
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
# The HTML report's charting library (Apache ECharts), pinned by web/package-lock.json and inlined
# into every report at build time. Node.js and npm are not Debian packages on every image (this
# one has NodeSource's), so npm is required rather than installed.
install_web() {
  local web
  web="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/web"
  [[ -f "$web/node_modules/echarts/dist/echarts.min.js" ]] && return 0
  if ! command -v npm >/dev/null; then
    echo "krill: npm is needed once to install the report's charting library into web/node_modules" >&2
    echo "krill: install Node.js with npm (Debian: apt-get install nodejs npm), then run this again" >&2
    exit 1
  fi
  echo "krill: installing web/node_modules (npm ci)" >&2
  npm ci --prefix "$web" --no-audit --no-fund
}

if [[ ${#missing[@]} -eq 0 ]]; then
  install_web
  exit 0
fi

echo "krill: installing missing packages: ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "krill: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_web
