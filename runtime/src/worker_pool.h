// Spruce's own threads for runs too small for an OpenMP team: the calling
// thread and a few spinning workers split one kernel's chunks.
//
// Why: a run of a few tens of microseconds (a pruned layer at batch 1) is
// over before a sleeping thread on another core wakes up (tens of
// microseconds on a virtual machine), and handing it to the team leader
// (team_leader.h) costs two such wake-ups. So such runs stay on their
// calling thread, and their sparse and small-batch kernels split their
// chunks with the pool's workers, which poll for the next job a while after
// each one before they sleep, as ONNX Runtime's own thread pool does. The
// caller works on chunks itself, so nothing waits on a wake-up while work
// remains. oneDNN layers in such runs keep one thread.
//
// One job at a time: a caller finding the pool busy (another thread's run)
// does its chunks alone, as it would with no pool. The workers carry the
// flush-to-zero mode (set once for each), like the team leader's.
#ifndef SPRUCE_RUNTIME_WORKER_POOL_H_
#define SPRUCE_RUNTIME_WORKER_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>

#include "spin.h"

namespace spruce {

class WorkerPool {
 public:
  // The process's pool, started on first use; its workers sleep while
  // there is no work.
  static WorkerPool& get();

  // Calls task(i) for every i in [0, count), on the calling thread and up to
  // `threads` - 1 workers, and returns once every call has returned. Tasks
  // must not throw.
  void run(size_t count, int threads, const std::function<void(size_t)>& task);

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

 private:
  WorkerPool() = default;
  friend WorkerPool& process_instance<WorkerPool>();
  void ensure_workers(int count);  // with busy_ held
  void work(int index);            // a worker's loop
  void run_chunks();               // claims and runs the current job's tasks

  std::mutex busy_;  // held by the caller whose job the pool runs
  int workers_ = 0;  // started so far (detached; never stopped)
  // The job, written only while generation_ is odd and no worker is inside.
  const std::function<void(size_t)>* task_ = nullptr;
  size_t count_ = 0;
  int helpers_ = 0;  // workers [0, helpers_) take part
  std::atomic<size_t> next_{0};
  std::atomic<size_t> done_{0};
  // Even: job generation_/2 is published; odd: the next one is being
  // written. Workers inside a job are counted so that the caller never
  // rewrites a job someone still reads.
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> inside_{0};
  // Workers that stopped polling and wait for the next generation.
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
  std::atomic<int> sleeping_{0};
};

// The pool width Engine::run gives the small runs it keeps on their caller
// (1: no pool). Thread-local, set for the run's duration.
int pool_threads();
class ScopedPoolThreads {
 public:
  explicit ScopedPoolThreads(int threads);
  ~ScopedPoolThreads();
  ScopedPoolThreads(const ScopedPoolThreads&) = delete;
  ScopedPoolThreads& operator=(const ScopedPoolThreads&) = delete;

 private:
  int previous_;
};

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_WORKER_POOL_H_
