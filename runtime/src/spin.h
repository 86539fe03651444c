// What spruce's own threads (the team leader, the worker pool) share: busy
// polling with a time limit, and one instance per process that a forked
// child makes anew.
#ifndef SPRUCE_RUNTIME_SPIN_H_
#define SPRUCE_RUNTIME_SPIN_H_

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <new>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace spruce {

// Tells the core this thread is spinning (x86 pause, Arm yield).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Polls `ready` for up to `limit`; true once it holds.
template <class Ready>
bool poll_until(const Ready& ready, std::chrono::microseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= end) return ready();
  }
}

// The process's T, made with `new T()` on first use (T befriends this
// function) and never destroyed: detached threads it starts may outlive
// static destruction. A child process has only the thread that forked, so
// it forgets the parent's instance (left as it was, mutexes and all) and
// makes its own on first use.
template <class T>
T& process_instance() {
  static std::atomic<T*> instance{nullptr};
  static std::mutex mutex;
  T* p = instance.load(std::memory_order_acquire);
  if (p != nullptr) return *p;
  const std::lock_guard<std::mutex> lock(mutex);
  p = instance.load(std::memory_order_relaxed);
  if (p == nullptr) {
    static const bool registered = [] {
      pthread_atfork(nullptr, nullptr, [] {
        instance.store(nullptr);
        new (&mutex) std::mutex();
      });
      return true;
    }();
    (void)registered;
    p = new T();
    instance.store(p, std::memory_order_release);
  }
  return *p;
}

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_SPIN_H_
