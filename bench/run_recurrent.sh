#!/usr/bin/env bash
# Runs the pruned LSTM and GRU benchmark (bench/recurrent_bench.cc) on 1 thread, 5
# repetitions interleaved, and prints the ratio table bench/RESULTS.md quotes.
#   bench/run_recurrent.sh [build dir] [extra Google Benchmark flags]
set -euo pipefail
build=${1:-build}
shift || true
out=${build}/recurrent_bench_t1.json
OMP_NUM_THREADS=1 "${build}/bench/recurrent_bench" --benchmark_repetitions=5 \
  --benchmark_min_time=0.1 --benchmark_enable_random_interleaving=true \
  --benchmark_format=json --benchmark_out="$out" --benchmark_out_format=json \
  "$@" >/dev/null
python3 "$(dirname "$0")/recurrent_ratios.py" "$out"
