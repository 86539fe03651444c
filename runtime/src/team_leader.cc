#include "team_leader.h"

#include <chrono>
#include <thread>

#include "denormals.h"
#include "spin.h"

namespace spruce {
namespace {

thread_local bool t_is_leader = false;

// How long each side polls before it sleeps (see team_leader.h).
constexpr std::chrono::microseconds kLeaderPoll{200};
constexpr std::chrono::microseconds kCallerPoll{10};

}  // namespace

TeamLeader& TeamLeader::get() { return process_instance<TeamLeader>(); }

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
