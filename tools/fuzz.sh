#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (AddressSanitizer + UBSan) and runs
# each for a bounded time on a seed corpus made from the committed fixtures
# (the ONNX models, and the same models converted to .spruce).
#   tools/fuzz.sh [SECONDS_PER_TARGET=60] [BUILD_DIR=build-fuzz]
# A crash leaves its input as BUILD_DIR/crash-*; make it a regression test.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
build=${2:-"$root/build-fuzz"}
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPRUCE_FUZZ=ON \
  -DSPRUCE_BUILD_TESTS=OFF -DSPRUCE_BUILD_BENCH=OFF > /dev/null
cmake --build "$build" --target load_fuzzer onnx_fuzzer spruce
corpus="$build/corpus"
mkdir -p "$corpus/onnx" "$corpus/spruce"
for model in "$root"/tests/fixtures/*/model.onnx; do
  name=$(basename "$(dirname "$model")")
  cp "$model" "$corpus/onnx/$name.onnx"
  "$build/tools/spruce" convert "$model" -o "$corpus/spruce/$name.spruce" > /dev/null
done
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0
cd "$build"
"$build/fuzz/load_fuzzer" -max_total_time="$seconds" -rss_limit_mb=4096 \
  -max_len=1048576 "$corpus/spruce"
"$build/fuzz/onnx_fuzzer" -max_total_time="$seconds" -rss_limit_mb=4096 \
  -max_len=1048576 "$corpus/onnx"
