#!/usr/bin/env bash
# Runs the sparse-vs-dense kernel benchmark single-threaded, 5 repetitions,
# and prints the ratio table that bench/RESULTS.md quotes.
#   bench/run_spmm.sh [build dir]
set -euo pipefail
build=${1:-build}
out=${build}/spmm_bench.json
OMP_NUM_THREADS=1 "${build}/bench/spmm_bench" --benchmark_repetitions=5 \
  --benchmark_min_time=0.1 --benchmark_format=json --benchmark_out="$out" \
  --benchmark_out_format=json >/dev/null
python3 "$(dirname "$0")/ratios.py" "$out"
