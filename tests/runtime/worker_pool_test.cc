// spruce's worker pool (runtime/src/worker_pool.h): every task runs exactly
// once, whatever the callers and widths; concurrent callers and a task that
// calls the pool again never deadlock; workers flush denormals. Runs under
// ThreadSanitizer in CI (the pool's threads are spruce's own).
#include "worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "denormals.h"

namespace spruce {
namespace {

TEST(WorkerPool, EveryTaskRunsOnceAtEveryWidth) {
  for (int threads : {1, 2, 3, 8}) {
    for (size_t count : {0, 1, 2, 7, 64, 1000}) {
      std::vector<std::atomic<int>> runs(count);
      WorkerPool::get().run(count, threads, [&](size_t i) { ++runs[i]; });
      for (size_t i = 0; i < count; ++i) {
        ASSERT_EQ(runs[i].load(), 1)
            << "task " << i << " of " << count << ", " << threads
            << " threads";
      }
    }
  }
}

// Four threads submit jobs at once: one holds the pool, the others run
// theirs alone; every job completes with every task run once.
TEST(WorkerPool, ConcurrentCallersEachFinishTheirOwnJob) {
  constexpr int kCallers = 4;
  constexpr int kJobs = 300;
  std::vector<std::thread> callers;
  std::atomic<int> wrong{0};
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      for (int j = 0; j < kJobs; ++j) {
        const size_t count = 1 + static_cast<size_t>((c * 7 + j) % 40);
        std::vector<int> hits(count, 0);
        WorkerPool::get().run(count, 2, [&](size_t i) { ++hits[i]; });
        for (int h : hits) wrong += h != 1;
      }
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

// A task that itself calls the pool (the pool is held) runs that inner
// job on its own thread.
TEST(WorkerPool, NestedRunsComplete) {
  std::atomic<int> inner{0};
  WorkerPool::get().run(4, 2, [&](size_t) {
    WorkerPool::get().run(3, 2, [&](size_t) { ++inner; });
  });
  EXPECT_EQ(inner.load(), 12);
}

// The caller flushes for its run (Engine::run does); the workers flush for
// good, whoever started them (a new thread inherits its creator's mode: here
// the workers are started from a thread that does not flush). Tasks spin a
// little so that the worker takes some.
TEST(WorkerPool, WorkersFlushDenormals) {
  std::thread([] { WorkerPool::get().run(64, 8, [](size_t) {}); }).join();
  const ScopedFlushDenormals flush;
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<int> not_flushing{0}, on_workers{0};
  for (int attempt = 0; attempt < 100 && on_workers.load() == 0; ++attempt) {
    WorkerPool::get().run(64, 2, [&](size_t) {
      not_flushing += float_control() != with_flush_denormals(float_control());
      on_workers += std::this_thread::get_id() != caller;
      volatile double spin = 0;
      for (int k = 0; k < 20000; ++k) spin = spin + k;
    });
  }
  EXPECT_GT(on_workers.load(), 0);
  EXPECT_EQ(not_flushing.load(), 0);
}

}  // namespace
}  // namespace spruce
