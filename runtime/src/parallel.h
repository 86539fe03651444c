// Splitting sparse work across OpenMP threads by non-zeros, not by rows.
#ifndef SPRUCE_RUNTIME_PARALLEL_H_
#define SPRUCE_RUNTIME_PARALLEL_H_

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "denormals.h"
#include "worker_pool.h"

namespace spruce {

// Built with SPRUCE_SERIAL_INSIDE (the ThreadSanitizer build): every run
// uses one OpenMP thread. libgomp is not instrumented, so TSan cannot see
// OpenMP's own fork/join synchronization and would report every parallel
// region; runs from many threads on one Engine, and their hand-off to the
// team leader, are still checked.
#ifdef SPRUCE_SERIAL_INSIDE
inline constexpr bool kSerialInside = true;
#else
inline constexpr bool kSerialInside = false;
#endif

// The OpenMP threads a oneDNN primitive created now will use: oneDNN sizes
// a primitive's work split for the threads at its creation and opens
// parallel regions that wide whatever the count when it executes, so
// compiled primitives are cached per thread count (a run on one thread
// must not open a two-thread team on its caller).
inline int primitive_threads() { return omp_get_max_threads(); }

// Below this many multiply-adds a parallel region costs more than it saves.
inline constexpr size_t kMinParallelWork = size_t{1} << 15;

// Boundaries splitting `rows` rows into `chunks` runs of about equal work,
// where row_ptr[r] is the work before row r (non-zeros or blocks), so a
// skewed row distribution still keeps every thread busy.
inline std::vector<size_t> split_by_work(const uint32_t* row_ptr, size_t rows,
                                         size_t chunks) {
  std::vector<size_t> bounds{0};
  const size_t total = row_ptr[rows];
  size_t row = 0;
  for (size_t c = 1; c < chunks; ++c) {
    const size_t target = total * c / chunks;
    while (row < rows && row_ptr[row] < target) ++row;
    if (row > bounds.back()) bounds.push_back(row);
  }
  if (bounds.back() != rows || bounds.size() == 1) bounds.push_back(rows);
  return bounds;
}

// Boundaries splitting [0, items) into at most `parts` runs of about equal
// size, none empty ({0, 0} for no items).
inline std::vector<size_t> split_evenly(size_t items, size_t parts) {
  std::vector<size_t> bounds{0};
  for (size_t t = 1; t <= parts; ++t) {
    const size_t bound = items * t / parts;
    if (bound > bounds.back()) bounds.push_back(bound);
  }
  if (bounds.size() == 1) bounds.push_back(0);
  return bounds;
}

// The threads run_chunks shares chunks between: `num_threads` OpenMP
// threads, or the worker pool's in a run kept on its calling thread; the
// number of chunks to cut for one each.
inline size_t chunk_threads(int num_threads) {
  return static_cast<size_t>(std::max({1, num_threads, pool_threads()}));
}

// kernel(begin, end) over each chunk of `bounds`, in parallel when there is
// enough work (`work` multiply-adds) for the threads to pay off: on
// `num_threads` OpenMP threads, or, in a small run kept on its caller
// (num_threads 1), on spruce's worker pool (worker_pool.h).
template <class Kernel>
void run_chunks(const std::vector<size_t>& bounds, size_t work, int num_threads,
                const Kernel& kernel) {
  const auto chunks = static_cast<long>(bounds.size() - 1);
  const bool openmp = num_threads > 1 && !kSerialInside;
  if (chunks == 1 || work < kMinParallelWork ||
      (!openmp && pool_threads() <= 1)) {
    kernel(bounds.front(), bounds.back());
    return;
  }
  if (!openmp) {
    // The pool's threads are spruce's own: ThreadSanitizer sees them too.
    WorkerPool::get().run(static_cast<size_t>(chunks), pool_threads(),
                          [&](size_t c) { kernel(bounds[c], bounds[c + 1]); });
    return;
  }
#pragma omp parallel for num_threads(num_threads) schedule(static, 1)
  for (long c = 0; c < chunks; ++c) {
    const ScopedFlushDenormals flush;  // this OpenMP thread's own mode
    kernel(bounds[c], bounds[c + 1]);
  }
}

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_PARALLEL_H_
