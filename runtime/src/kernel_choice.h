// How a layer picks among its implementations at load, for every op that
// has more than one (Linear, LSTM, Conv): an ordered list of candidates,
// each timed on the running CPU, with the threads runs will use, at the
// batch widths services use; a batch then runs what was fastest at the
// largest probe not above it. Dense candidates set the yardstick: a sparse
// one is chosen only when it beats the fastest dense one by kSparseMargin,
// so a pruned model never runs slower than its dense original, and every
// speedup reported is over the best dense implementation spruce has.
#ifndef SPRUCE_RUNTIME_KERNEL_CHOICE_H_
#define SPRUCE_RUNTIME_KERNEL_CHOICE_H_

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace spruce {

// A sparse candidate must beat dense by this margin to be chosen: timings at
// load are noisy, and a pruned model must never run slower than dense.
inline constexpr double kSparseMargin = 1.05;

// The batch widths (columns of a product, or a recurrent layer's batch)
// candidates are timed at.
inline constexpr size_t kBatchProbes[] = {1, 2, 4, 8, 16, 64};

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

// Seconds of the fastest run of each of `count` alternatives that need
// setting up before they run (`use(i)`: a whole model's plan), in rounds
// that take each in turn, so a burst of noise from other processes slows
// all of them rather than one: each round sets one up, runs it once
// untimed, then times `run()` twice. At least `min_rounds` rounds, then
// more until `budget` has passed, at most `max_rounds`.
template <class Use, class Run>
std::vector<double> best_times_in_turn(size_t count, const Use& use,
                                       const Run& run,
                                       std::chrono::milliseconds budget,
                                       int min_rounds, int max_rounds) {
  using clock = std::chrono::steady_clock;
  std::vector<double> best(count, std::numeric_limits<double>::infinity());
  const auto deadline = clock::now() + budget;
  for (int round = 0;
       round < max_rounds && (round < min_rounds || clock::now() < deadline);
       ++round) {
    for (size_t i = 0; i < count; ++i) {
      use(i);
      run();
      for (int k = 0; k < 2; ++k) {
        const auto start = clock::now();
        run();
        best[i] = std::min(
            best[i],
            std::chrono::duration<double>(clock::now() - start).count());
      }
    }
  }
  return best;
}

// One implementation an op can run. `Kernel` is the op's own enum.
template <class Kernel>
struct Candidate {
  Kernel kernel;
  bool dense = false;  // part of the yardstick
  // Not timed, nor run, above this batch (a kernel built for small ones).
  size_t max_batch = std::numeric_limits<size_t>::max();
};

// What runs batches from min_batch up to the next range's min_batch, and the
// fastest dense time over its time at the probe (1 where dense runs or
// nothing was timed).
template <class Kernel>
struct BatchRange {
  size_t min_batch = 1;
  Kernel kernel{};
  double speedup = 1.0;
};

template <class Kernel>
class KernelChoice {
 public:
  // One kernel for every batch, untimed.
  void fix(Kernel kernel) { ranges_ = {{1, kernel, 1.0}}; }

  // Times every candidate that applies at each of `probes` (ascending, the
  // first 1) with time(kernel, batch) → seconds, and keeps the fastest per
  // probe. With no dense candidate, the fastest wins outright.
  template <class Time>
  void choose(const std::vector<Candidate<Kernel>>& candidates,
              const std::vector<size_t>& probes, const Time& time) {
    ranges_.clear();
    for (size_t batch : probes) {
      const double inf = std::numeric_limits<double>::infinity();
      double dense_time = inf, sparse_time = inf;
      Kernel dense{}, sparse{};
      for (const Candidate<Kernel>& c : candidates) {
        if (batch > c.max_batch) continue;
        const double t = time(c.kernel, batch);
        double& best = c.dense ? dense_time : sparse_time;
        if (t < best) {
          best = t;
          (c.dense ? dense : sparse) = c.kernel;
        }
      }
      BatchRange<Kernel> range{batch, dense, 1.0};
      if (sparse_time < inf &&
          (dense_time == inf || sparse_time * kSparseMargin < dense_time)) {
        range.kernel = sparse;
        range.speedup = dense_time == inf ? 1.0 : dense_time / sparse_time;
      }
      ranges_.push_back(range);
    }
  }

  // The range holding `batch`.
  const BatchRange<Kernel>& at(size_t batch) const {
    size_t i = 0;
    while (i + 1 < ranges_.size() && ranges_[i + 1].min_batch <= batch) ++i;
    return ranges_[i];
  }
  const std::vector<BatchRange<Kernel>>& ranges() const { return ranges_; }
  bool uses(Kernel kernel) const {
    return std::any_of(ranges_.begin(), ranges_.end(),
                       [&](const auto& r) { return r.kernel == kernel; });
  }

 private:
  std::vector<BatchRange<Kernel>> ranges_ = std::vector<BatchRange<Kernel>>(1);
};

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_KERNEL_CHOICE_H_
