#!/usr/bin/env bash
# Builds spruce with clang, AddressSanitizer, UBSan and libFuzzer coverage
# (the tests too), then runs the fuzz targets for a bounded time each.
#   tools/fuzz.sh [SECONDS_PER_TARGET=60] [BUILD_DIR=build-checks]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
build=${2:-"$root/build-checks"}
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPRUCE_FUZZ=ON \
  -DSPRUCE_BUILD_BENCH=OFF > /dev/null
cmake --build "$build"
"$root/tools/run_fuzzers.sh" "$build" "$seconds"
