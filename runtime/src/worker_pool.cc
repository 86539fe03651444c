#include "worker_pool.h"

#include <chrono>
#include <thread>

#include "denormals.h"
#include "spin.h"

namespace spruce {
namespace {

thread_local int t_pool_threads = 1;

// How long a worker polls for the next job before it sleeps: long enough
// to bridge the gap between a stream's runs and between a run's layers.
constexpr std::chrono::microseconds kWorkerPoll{300};

}  // namespace

int pool_threads() { return t_pool_threads; }

ScopedPoolThreads::ScopedPoolThreads(int threads)
    : previous_(t_pool_threads) {
  t_pool_threads = threads;
}
ScopedPoolThreads::~ScopedPoolThreads() { t_pool_threads = previous_; }

WorkerPool& WorkerPool::get() { return process_instance<WorkerPool>(); }

void WorkerPool::ensure_workers(int count) {
  for (; workers_ < count; ++workers_) {
    const int index = workers_;
    std::thread([this, index] { work(index); }).detach();
  }
}

void WorkerPool::run(size_t count, int threads,
                     const std::function<void(size_t)>& task) {
  std::unique_lock<std::mutex> lock(busy_, std::try_to_lock);
  if (!lock.owns_lock() || threads <= 1 || count <= 1) {
    for (size_t i = 0; i < count; ++i) task(i);
    return;
  }
  ensure_workers(threads - 1);
  // Odd: being written. A worker entering from here on backs off; one
  // already inside finishes first.
  const uint64_t writing = generation_.fetch_add(1) + 1;
  while (inside_.load() != 0) cpu_relax();
  task_ = &task;
  count_ = count;
  helpers_ = threads - 1;
  next_.store(0);
  done_.store(0);
  generation_.store(writing + 1);
  if (sleeping_.load() > 0) {
    const std::lock_guard<std::mutex> sleep_lock(sleep_mutex_);
    wake_.notify_all();
  }
  run_chunks();
  // The rest is running on workers. One that took a chunk and was then
  // descheduled (the cores are busy with other work) would keep a spinning
  // caller waiting for a whole time slice: after a short spin, yield this
  // core to it instead.
  for (int spins = 0; done_.load() != count_; ++spins) {
    if (spins < 4096) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
}

void WorkerPool::run_chunks() {
  for (size_t i = next_.fetch_add(1); i < count_; i = next_.fetch_add(1)) {
    (*task_)(i);
    done_.fetch_add(1);
  }
}

void WorkerPool::work(int index) {
  set_flush_denormals();  // for good, on this thread
  uint64_t seen = generation_.load();
  const auto published = [&] {
    const uint64_t g = generation_.load();
    return g % 2 == 0 && g != seen;
  };
  for (;;) {
    if (!poll_until(published, kWorkerPoll)) {
      std::unique_lock<std::mutex> lock(sleep_mutex_);
      sleeping_.fetch_add(1);
      wake_.wait(lock, published);
      sleeping_.fetch_sub(1);
    }
    const uint64_t generation = generation_.load();
    seen = generation;
    if (generation % 2 != 0) continue;  // a newer job is being written
    inside_.fetch_add(1);
    // The job may have been replaced between the two loads: then it is
    // not the one this worker saw, and it waits for the next.
    if (generation_.load() == generation && index < helpers_) run_chunks();
    inside_.fetch_sub(1);
  }
}

}  // namespace spruce
