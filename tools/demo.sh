#!/usr/bin/env bash
# The main job on the bundled model: convert a 90%-pruned PyTorch MLP to
# .spruce (prints dense vs stored size), then time it sparse vs dense (oneDNN)
# in one process. Run tools/setup.sh first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-"$root/build"}
model="$root/tests/fixtures/mlp_pruned90/model.onnx"
out="$build/mlp_pruned90.spruce"

echo "== spruce convert: $model"
"$build/spruce" convert "$model" -o "$out"
echo
echo "== spruce inspect"
"$build/spruce" inspect "$out"
for batch in 1 64; do
  echo
  echo "== spruce bench (batch $batch, 1 thread): sparse vs dense, same run"
  "$build/spruce" bench "$out" --batch "$batch" --threads 1 --time 2 --compare-dense
done
