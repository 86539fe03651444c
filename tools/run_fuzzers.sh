#!/usr/bin/env bash
# Runs the libFuzzer targets of a fuzz build (see tools/fuzz.sh) for a bounded
# time each, seeded from the committed fixtures. Exit status 1 on any crash,
# sanitizer report, leak or out-of-memory; the input is kept as
# BUILD_DIR/fuzz-artifacts/crash-* (make it a regression test).
#   tools/run_fuzzers.sh BUILD_DIR [SECONDS_PER_TARGET=60] [load|onnx|all]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$1
seconds=${2:-60}
which=${3:-all}
corpus="$build/corpus"
mkdir -p "$corpus/onnx" "$corpus/spruce" "$build/fuzz-artifacts"
# Each target seeds only its own corpus, so both may run at once.
for model in "$root"/tests/fixtures/*/model.onnx; do
  name=$(basename "$(dirname "$model")")
  if [ "$which" = onnx ] || [ "$which" = all ]; then
    cp -f "$model" "$corpus/onnx/$name.onnx"
  fi
  if { [ "$which" = load ] || [ "$which" = all ]; } &&
     [ ! -f "$corpus/spruce/$name.spruce" ]; then
    "$build/spruce" convert "$model" -o "$corpus/spruce/$name.spruce" > /dev/null
  fi
done
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0
flags=(-max_total_time="$seconds" -rss_limit_mb=4096 -max_len=1048576
       -artifact_prefix="$build/fuzz-artifacts/" -print_final_stats=1)
if [ "$which" = load ] || [ "$which" = all ]; then
  "$build/fuzz/load_fuzzer" "${flags[@]}" "$corpus/spruce"
fi
if [ "$which" = onnx ] || [ "$which" = all ]; then
  "$build/fuzz/onnx_fuzzer" "${flags[@]}" "$corpus/onnx"
fi
