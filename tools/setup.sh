#!/usr/bin/env bash
# Installs spruce's build dependencies from Debian 12 packages (only what is
# missing), then configures and builds. Idempotent: a second run installs
# nothing and rebuilds only what changed.
#
#   tools/setup.sh            install + configure + build (Release)
#   tools/setup.sh --no-build install only
#   tools/setup.sh --checks   also clang/libFuzzer, and two more builds
#                             (build-checks: clang, AddressSanitizer, UBSan,
#                             fuzzer coverage; build-thread: ThreadSanitizer)
#                             whose test suites and fuzzers then run as part
#                             of build's ctest (what CI runs)
#   tools/setup.sh --bench    also what the model benchmarks and the pruning
#                             example need (PyTorch,
#                             torchvision, ONNX, Node.js for ONNX Runtime,
#                             OpenBLAS so that Debian's PyTorch is not on the
#                             reference BLAS), then install + build
#
# Environment: BUILD_DIR (default: build), BUILD_TYPE (default: Release).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-"$root/build"}
build_type=${BUILD_TYPE:-Release}

packages=(
  build-essential cmake ninja-build pkg-config
  libdnnl-dev ocl-icd-opencl-dev opencl-headers   # oneDNN 2.6 (its CMake config wants OpenCL)
  libhwy-dev                                      # Google Highway 1.0.3
  libgtest-dev libgmock-dev libbenchmark-dev
  libonnx-dev libprotobuf-dev protobuf-compiler   # ONNX import (converter only)
  libflatbuffers-dev flatbuffers-compiler         # .spruce schema
  libxxhash-dev                                   # .spruce checksums
  libonnx-testdata                                # tests: ONNX backend node tests
  libcli11-dev nlohmann-json3-dev                 # command line, JSON output
)
# Regenerating the committed fixtures (tools/make_fixtures.py) also needs
# python3-torch and python3-onnx; building and testing do not.
bench=0
checks=0
[ "${1:-}" = "--bench" ] && bench=1 && shift
[ "${1:-}" = "--checks" ] && checks=1 && shift
if [ $checks -eq 1 ]; then
  packages+=(clang libclang-rt-14-dev)
fi
if [ $bench -eq 1 ]; then
  packages+=(python3-torch python3-torchvision python3-onnx python3-numpy
             python3-sklearn python3-matplotlib libopenblas0-openmp)
  # Node.js from another package source (NodeSource, nvm) conflicts with
  # Debian's npm, and apt would refuse the whole install: take Debian's only
  # where there is none.
  command -v node >/dev/null 2>&1 || packages+=(nodejs)
  command -v npm >/dev/null 2>&1 || packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ $bench -eq 1 ] && [ ! -d "$root/bench/ort/node_modules/onnxruntime-node" ]; then
  # onnxruntime-node ships its CPU library in the package; its install
  # script only tries a download, which is skipped.
  (cd "$root/bench/ort" && npm install --ignore-scripts --no-audit --no-fund)
fi

[ "${1:-}" = "--no-build" ] && exit 0

generator=()
[ -f "$build_dir/CMakeCache.txt" ] || generator=(-G Ninja)
checks_dir=""
if [ $checks -eq 1 ]; then
  checks_dir="$root/build-checks"
  checks_generator=()
  [ -f "$checks_dir/CMakeCache.txt" ] || checks_generator=(-G Ninja)
  CC=clang CXX=clang++ cmake -S "$root" -B "$checks_dir" "${checks_generator[@]}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPRUCE_FUZZ=ON -DSPRUCE_BUILD_BENCH=OFF
  cmake --build "$checks_dir" --parallel "$(nproc)"
  # And ThreadSanitizer (gcc): runs use one OpenMP thread there
  # (SPRUCE_SERIAL_INSIDE); the concurrency tests still share one Engine.
  tsan_generator=()
  [ -f "$root/build-thread/CMakeCache.txt" ] || tsan_generator=(-G Ninja)
  cmake -S "$root" -B "$root/build-thread" "${tsan_generator[@]}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPRUCE_SANITIZE=thread \
    -DSPRUCE_BUILD_BENCH=OFF
  cmake --build "$root/build-thread" --parallel "$(nproc)"
fi
# SPRUCE_CHECKS_BUILD: build's ctest also runs the sanitized suite and the
# fuzzers of that build (empty: not).
cmake -S "$root" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE="$build_type" \
  -DSPRUCE_WERROR=ON -DSPRUCE_CHECKS_BUILD="$checks_dir"
cmake --build "$build_dir" --parallel "$(nproc)"
