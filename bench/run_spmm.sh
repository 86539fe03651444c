#!/usr/bin/env bash
# Runs the sparse-vs-dense kernel benchmark on 1 thread and on all cores,
# 3 repetitions each, and prints the ratio tables that bench/RESULTS.md quotes.
#   bench/run_spmm.sh [build dir] [extra Google Benchmark flags]
set -euo pipefail
build=${1:-build}
shift || true
for threads in 1 "$(nproc)"; do
  out=${build}/spmm_bench_t${threads}.json
  OMP_NUM_THREADS=$threads "${build}/bench/spmm_bench" --benchmark_repetitions=3 \
    --benchmark_min_time=0.05 --benchmark_enable_random_interleaving=true \
    --benchmark_format=json --benchmark_out="$out" --benchmark_out_format=json \
    "$@" >/dev/null
  echo "### ${threads} thread(s)"
  echo
  python3 "$(dirname "$0")/ratios.py" "$out"
done
