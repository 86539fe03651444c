#!/usr/bin/env bash
# Builds spruce and its tests with sanitizers and runs the test suite.
#   tools/sanitize.sh [address,undefined | thread] [BUILD_DIR]
# ThreadSanitizer: libgomp is not instrumented, so OpenMP's own
# synchronization is invisible to it. The thread build defines
# SPRUCE_SERIAL_INSIDE: each run uses one OpenMP thread (no team, oneDNN on
# one thread), while the concurrency tests still run many threads on one
# Engine and hand runs to the team leader, which is what TSan then checks.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sanitizers=${1:-address,undefined}
build=${2:-"$root/build-${sanitizers//,/-}"}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSPRUCE_SANITIZE="$sanitizers" -DSPRUCE_BUILD_BENCH=OFF > /dev/null
cmake --build "$build"
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if [ "$sanitizers" = thread ]; then
  export OMP_NUM_THREADS=1
  export TSAN_OPTIONS=die_after_fork=0  # a forked child starts its leader
fi
ctest --test-dir "$build" --output-on-failure -j2 -E Examples
