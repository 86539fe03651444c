#!/bin/bash
# Two spruce builds on the same .spruce files, alternating per model so the
# machine's noise falls on both alike: one line per (round, model, build)
# with the p50 latency in ms (1 thread, batch 1). The median over rounds is
# what bench/RESULTS.md quotes.
#   bench/compare_builds.sh BEFORE_SPRUCE AFTER_SPRUCE ROUNDS MODEL.spruce...
set -euo pipefail
before=$1 after=$2 rounds=$3
shift 3
json=$(mktemp)
trap 'rm -f "$json"' EXIT
for round in $(seq "$rounds"); do
  for model in "$@"; do
    for build in before after; do
      exe=$before; [ "$build" = after ] && exe=$after
      "$exe" bench "$model" --threads 1 --time 1 --json "$json" > /dev/null
      p50=$(/usr/bin/python3 -c \
        "import json,sys; print(json.load(open(sys.argv[1]))['latency_ms']['p50'])" \
        "$json")
      echo "$round $model $build $p50"
    done
  done
done
