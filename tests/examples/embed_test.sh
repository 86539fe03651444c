#!/usr/bin/env bash
# Installs spruce into a temporary prefix, builds examples/embed against the
# installed CMake package (as a service would), and runs it on the bundled
# pruned MLP from 4 threads.
#   embed_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > /dev/null
cmake -S "$src/examples/embed" -B "$tmp/build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" > /dev/null
cmake --build "$tmp/build" > /dev/null
"$tmp/prefix/bin/spruce" convert "$src/tests/fixtures/mlp_pruned90/model.onnx" \
  -o "$tmp/model.spruce" > /dev/null
# The example's exit status and its success line both count: a crash after
# the line, or a line missing from a clean exit, fails the test.
out=$("$tmp/build/embed" "$tmp/model.spruce" 4 100)
echo "$out"
grep -q "outputs agree across 4 threads" <<< "$out" || {
  echo "embed_test: the example did not report agreeing outputs" >&2
  exit 1
}
