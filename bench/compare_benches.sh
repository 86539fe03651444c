#!/bin/bash
# Two Google Benchmark binaries (or commands running one) on the same
# benchmarks, alternating process by process so the machine's noise falls
# on both alike: per benchmark, the fastest and the lower-quartile time of
# each over ROUNDS rounds of 5 repetitions, and their ratios A/B (above 1:
# B is faster).
#   bench/compare_benches.sh A B FILTER [ROUNDS]
# e.g. OMP_NUM_THREADS=1 bench/compare_benches.sh \
#        /tmp/base/build/bench/conv_bench build/bench/conv_bench \
#        '^sparse-csr/.*/1/90$' 4
# On a shared host whose noise only ever adds time, the minimum and lower
# quartile of an A/A comparison agree within 1-2% where medians of the same
# runs swing by a third (bench/RESULTS.md, "Measuring on a noisy host").
# MIN_TIME sets --benchmark_min_time per repetition (default 0.1 s).
set -euo pipefail
a=$1 b=$2 filter=$3 rounds=${4:-4}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for round in $(seq "$rounds"); do
  for side in A B; do
    exe=$a; [ "$side" = B ] && exe=$b
    $exe --benchmark_filter="$filter" \
      --benchmark_min_time="${MIN_TIME:-0.1}" --benchmark_repetitions=5 \
      --benchmark_format=csv 2>/dev/null |
      grep '^"' | grep -v '_mean"\|_median"\|_stddev"\|_cv"' |
      sed "s/^/$side,/" >> "$out"
  done
done
/usr/bin/python3 - "$out" <<'PY'
import collections, csv, sys
times = collections.defaultdict(lambda: collections.defaultdict(list))
for row in csv.reader(open(sys.argv[1])):
    side, name, real_time = row[0], row[1], row[3]
    if real_time:
        times[name][side].append(float(real_time))
for name, sides in times.items():
    a, b = sorted(sides["A"]), sorted(sides["B"])
    if not a or not b:
        continue
    q1 = lambda t: t[len(t) // 4]
    print(f"{name:50s} A min {a[0]:11.0f} q1 {q1(a):11.0f}   "
          f"B min {b[0]:11.0f} q1 {q1(b):11.0f}   "
          f"A/B min {a[0] / b[0]:5.2f} q1 {q1(a) / q1(b):5.2f}")
PY
