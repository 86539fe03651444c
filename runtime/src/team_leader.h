// One spruce-owned thread per process leads the OpenMP teams of every
// multi-threaded run, whichever thread calls Engine::run.
//
// Why: libgomp gives each thread that starts a parallel region its own team
// of worker threads, kept for that thread's lifetime. A service that loads
// on one thread and serves on another, or serves from several, ends up with
// more OpenMP threads than cores; libgomp then lets an idle worker spin only
// ~100 times before it sleeps, and every parallel region pays a futex
// wake-up. Measured on 2 cores, from a thread other than the loading one:
// 1.1-8.5x slower runs (bench/RESULTS.md). With one leader there is one
// team, as in a single-threaded program.
//
// The leader also carries the denormal mode to oneDNN's threads: it sets
// flush-to-zero once for itself, and the OpenMP workers it creates inherit
// the floating-point control register (a new thread starts with its
// creator's), so dense layers flush as spruce's own kernels do.
//
// Concurrent runs take turns, first come first served: each already has all
// the cores. Tried instead: a run finding the leader busy ran on its caller
// with one thread; that oversubscribed the cores and gave less throughput
// (pruned BERT, 4 streams: 894 items/s against 1226 taking turns).
//
// Hand-off: waking a sleeping thread on another core costs tens of
// microseconds on a virtual machine, as much as a small model's whole run.
// So the leader polls a while for the next job after each one, and the
// caller polls briefly for its result (10 µs) before either sleeps. A
// caller polling longer takes a core from the team and slows the very job
// it waits for (measured: 50 µs polls cost 5% on a 0.8 ms run, polls as
// long as the job 3x on a 60 µs one); runs too small to hide the caller's
// wake-up stay on their own thread instead (Engine::run).
#ifndef SPRUCE_RUNTIME_TEAM_LEADER_H_
#define SPRUCE_RUNTIME_TEAM_LEADER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>

#include "spin.h"

namespace spruce {

class TeamLeader {
 public:
  // The process's leader, started on first use and never stopped (it sleeps
  // while there is no work).
  static TeamLeader& get();
  // Whether the calling thread is the leader.
  static bool on_leader();

  // Runs `job` on the leader once the jobs submitted before it have run,
  // and returns when it has finished. Rethrows whatever `job` threw.
  void run(const std::function<void()>& job);

  TeamLeader(const TeamLeader&) = delete;
  TeamLeader& operator=(const TeamLeader&) = delete;

 private:
  struct Job {
    const std::function<void()>* work = nullptr;
    std::atomic<bool> done{false};
    std::exception_ptr error;  // written before `done`
  };

  TeamLeader();
  friend TeamLeader& process_instance<TeamLeader>();
  void execute(const std::function<void()>& work);  // holds the turn
  void loop();

  std::atomic<Job*> job_{nullptr};  // set by the caller, taken by the leader
  std::mutex mutex_;                // guards everything below
  std::condition_variable wake_;    // the leader or the caller, asleep
  std::condition_variable turn_;    // callers waiting for their turn
  bool leader_sleeping_ = false;
  bool caller_sleeping_ = false;
  uint64_t next_ticket_ = 0;  // turns handed out
  uint64_t serving_ = 0;      // the turn now running
  int waiting_ = 0;           // callers waiting on turn_
};

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_TEAM_LEADER_H_
