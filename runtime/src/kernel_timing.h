// How the planner times candidate kernels at load (Linear and LSTM alike).
#ifndef SPRUCE_RUNTIME_KERNEL_TIMING_H_
#define SPRUCE_RUNTIME_KERNEL_TIMING_H_

#include <algorithm>
#include <chrono>
#include <limits>

namespace spruce {

// A sparse candidate must beat dense by this margin to be chosen: timings at
// load are noisy, and a pruned model must never run slower than dense.
inline constexpr double kSparseMargin = 1.05;

// Seconds of the fastest of `run()`'s calls, after one warm-up call: at least
// 3 calls, then more until `budget` has passed, at most `max_runs`. Enough to
// see through noise on small layers, bounded on large ones.
template <class Run>
double best_time(const Run& run, std::chrono::milliseconds budget,
                 int max_runs) {
  using clock = std::chrono::steady_clock;
  run();
  double best = std::numeric_limits<double>::infinity();
  const auto deadline = clock::now() + budget;
  for (int i = 0; i < max_runs && (i < 3 || clock::now() < deadline); ++i) {
    const auto start = clock::now();
    run();
    best = std::min(
        best, std::chrono::duration<double>(clock::now() - start).count());
  }
  return best;
}

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_KERNEL_TIMING_H_
