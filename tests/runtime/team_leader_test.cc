// The team leader (runtime/src/team_leader.h): jobs run one at a time on
// one thread that is not the caller's, first come first served, errors
// reach their caller, and a forked child gets a leader of its own.
#include "team_leader.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "runtime/linear_model.h"
#include "spruce/converters/model_def.h"
#include "spruce/spruce.h"

namespace spruce {
namespace {

TEST(TeamLeader, RunsJobsOnItsOwnThread) {
  const std::thread::id caller = std::this_thread::get_id();
  std::thread::id first, second;
  bool flagged = false;
  EXPECT_FALSE(TeamLeader::on_leader());
  TeamLeader::get().run([&] {
    first = std::this_thread::get_id();
    flagged = TeamLeader::on_leader();
  });
  TeamLeader::get().run([&] { second = std::this_thread::get_id(); });
  EXPECT_NE(first, caller);
  EXPECT_EQ(first, second);
  EXPECT_TRUE(flagged);
}

TEST(TeamLeader, ErrorsReachTheCallerAndTheLeaderGoesOn) {
  EXPECT_THROW(TeamLeader::get().run([] { throw std::runtime_error("x"); }),
               std::runtime_error);
  int ran = 0;
  TeamLeader::get().run([&] { ran = 1; });
  EXPECT_EQ(ran, 1);
}

// 8 threads submit 200 jobs each: never two at once, none lost, and every
// thread's jobs in its own order.
TEST(TeamLeader, ConcurrentCallersTakeTurns) {
  constexpr int kThreads = 8, kJobs = 200;
  std::atomic<int> inside{0}, overlaps{0};
  std::vector<int> done(kThreads, 0);  // written on the leader only
  std::atomic<int> out_of_order{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int j = 0; j < kJobs; ++j) {
        TeamLeader::get().run([&, t, j] {
          if (inside.fetch_add(1) != 0) ++overlaps;
          if (done[static_cast<size_t>(t)] != j) ++out_of_order;
          ++done[static_cast<size_t>(t)];
          inside.fetch_sub(1);
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(out_of_order.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(done[static_cast<size_t>(t)], kJobs) << "thread " << t;
  }
}

// y = x · Wᵀ, W [16, 16] of k/16, dense, on two threads (so through the
// leader).
std::string small_model() {
  converters::WeightDef w;
  w.name = "w";
  w.shape = {16, 16};
  for (int k = 0; k < 256; ++k) w.dense.push_back(static_cast<float>(k) / 16);
  return testing::write_linear_model("leader_small.spruce", std::move(w), {},
                                     kernels::Activation::kNone, {-1, 16});
}

// A pre-forking server loads, runs, then forks: the child has no leader
// thread (fork copies only the caller), so it must start its own.
TEST(TeamLeader, ForkedChildRunsWithItsOwnLeader) {
  EngineOptions options;
  options.num_threads = 2;
  const Engine engine = Engine::load(small_model(), options);
  std::vector<float> x(4 * 16);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7);
  const std::vector<float> expected =
      engine.run({{"x", x.data(), {4, 16}}})[0].values();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    bool same = false;
    try {
      same = engine.run({{"x", x.data(), {4, 16}}})[0].values() == expected;
    } catch (...) {
    }
    _exit(same ? 0 : 1);
  }
  // Bounded: a child stuck on the parent's leader would hang forever.
  int status = 0;
  pid_t waited = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((waited = waitpid(child, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (waited == 0) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    FAIL() << "the forked child did not finish its run in 30 s";
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's outputs differ";
  // And the parent's leader still serves.
  EXPECT_EQ(engine.run({{"x", x.data(), {4, 16}}})[0].values(), expected);
}

}  // namespace
}  // namespace spruce
