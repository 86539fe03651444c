#include "team_leader.h"

#include <pthread.h>

#include <chrono>
#include <new>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "denormals.h"

namespace spruce {
namespace {

thread_local bool t_is_leader = false;

// Never destroyed: the detached leader may outlive static destruction.
std::atomic<TeamLeader*> g_leader{nullptr};
std::mutex g_leader_mutex;

// How long each side polls before it sleeps (see team_leader.h).
constexpr std::chrono::microseconds kLeaderPoll{200};
constexpr std::chrono::microseconds kCallerPoll{10};

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

}  // namespace

TeamLeader& TeamLeader::get() {
  TeamLeader* leader = g_leader.load(std::memory_order_acquire);
  if (leader != nullptr) return *leader;
  const std::lock_guard<std::mutex> lock(g_leader_mutex);
  leader = g_leader.load(std::memory_order_relaxed);
  if (leader == nullptr) {
    static const bool registered = [] {
      // A child process has only the thread that forked: it forgets the
      // parent's leader (left as it was, mutexes and all) and starts its own.
      pthread_atfork(nullptr, nullptr, [] {
        g_leader.store(nullptr);
        new (&g_leader_mutex) std::mutex();
      });
      return true;
    }();
    (void)registered;
    leader = new TeamLeader();
    g_leader.store(leader, std::memory_order_release);
  }
  return *leader;
}

bool TeamLeader::on_leader() { return t_is_leader; }

TeamLeader::TeamLeader() {
  std::thread([this] { loop(); }).detach();
}

void TeamLeader::run(const std::function<void()>& job) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    const uint64_t ticket = next_ticket_++;
    if (ticket != serving_) {
      ++waiting_;
      turn_.wait(lock, [&] { return serving_ == ticket; });
      --waiting_;
    }
  }
  // The next turn, however this one ends.
  struct NextTurn {
    TeamLeader* leader;
    ~NextTurn() {
      const std::lock_guard<std::mutex> lock(leader->mutex_);
      ++leader->serving_;
      if (leader->waiting_ > 0) leader->turn_.notify_all();
    }
  } next_turn{this};
  execute(job);
}

void TeamLeader::execute(const std::function<void()>& work) {
  Job job;
  job.work = &work;
  job_.store(&job);
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (leader_sleeping_) wake_.notify_all();
  }
  const auto done = [&job] { return job.done.load(); };
  if (!poll_until(done, kCallerPoll)) {
    std::unique_lock<std::mutex> lock(mutex_);
    caller_sleeping_ = true;
    wake_.wait(lock, done);
    caller_sleeping_ = false;
  }
  if (job.error) std::rethrow_exception(job.error);
}

void TeamLeader::loop() {
  t_is_leader = true;
  // For good, on this thread and the OpenMP workers it will create.
  set_flush_denormals();
  const auto pending = [this] { return job_.load() != nullptr; };
  for (;;) {
    if (!poll_until(pending, kLeaderPoll)) {
      std::unique_lock<std::mutex> lock(mutex_);
      leader_sleeping_ = true;
      wake_.wait(lock, pending);
      leader_sleeping_ = false;
    }
    Job* job = job_.exchange(nullptr);
    try {
      (*job->work)();
    } catch (...) {
      job->error = std::current_exception();
    }

    job->done.store(true);  // the caller may return from here on
    const std::lock_guard<std::mutex> lock(mutex_);
    if (caller_sleeping_) wake_.notify_all();
  }
}

}  // namespace spruce
