#!/bin/bash
# Two spruce builds on the same models, alternating per model so the
# machine's noise falls on both alike: one line per (round, model, build)
# with the p50 latency in ms (1 thread, batch 1, 1 s per run; or THREADS=n,
# BATCH=n, SECONDS_PER_RUN=s, STAT=min for the fastest run instead of p50).
# The median over rounds is what bench/RESULTS.md quotes. On a shared host
# whose noise only ever adds time, STAT=min resolves changes of a few
# percent that p50 (swinging by a third between runs) cannot.
#   bench/compare_builds.sh BEFORE_SPRUCE AFTER_SPRUCE ROUNDS MODEL...
# A MODEL.spruce runs as it is on both builds; a MODEL.onnx is converted by
# each build first (for changes to the converter: what it fuses, the file).
set -euo pipefail
before=$1 after=$2 rounds=$3
shift 3
threads=${THREADS:-1}
batch=${BATCH:-1}
seconds=${SECONDS_PER_RUN:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
json=$work/bench.json
# The file `build` runs for model number $2 ($3).
file_for() {
  case "$3" in
    *.onnx) echo "$work/$1-$2.spruce" ;;
    *) echo "$3" ;;
  esac
}
index=0
for model in "$@"; do
  if [[ "$model" == *.onnx ]]; then
    "$before" convert "$model" -o "$(file_for before $index "$model")" > /dev/null
    "$after" convert "$model" -o "$(file_for after $index "$model")" > /dev/null
  fi
  index=$((index + 1))
done
for round in $(seq "$rounds"); do
  index=0
  for model in "$@"; do
    for build in before after; do
      exe=$before; [ "$build" = after ] && exe=$after
      "$exe" bench "$(file_for $build $index "$model")" --threads "$threads" \
        --batch "$batch" --time "$seconds" --json "$json" > /dev/null
      ms=$(/usr/bin/python3 -c \
        "import json,sys; print(json.load(open(sys.argv[1]))['latency_ms'][sys.argv[2]])" \
        "$json" "${STAT:-p50}")
      echo "$round $model $build $ms"
    done
    index=$((index + 1))
  done
done
