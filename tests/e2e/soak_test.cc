// Load and soak: many threads (8, on however many cores) share one Engine
// and run mixed batch sizes for a bounded time. Every output must equal,
// bit for bit, what one thread computes for the same input, and resident
// memory must stay flat once every thread has warmed up.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "spruce/converters/onnx_import.h"
#include "spruce/spruce.h"
#include "test_util.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)  // clang's spelling
#define SPRUCE_HAS_ASAN 1
#endif
#endif
#ifndef SPRUCE_HAS_ASAN
#define SPRUCE_HAS_ASAN 0
#endif

namespace spruce {
namespace {

using testing::fixture;
using testing::temp_path;

size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

struct Case {
  std::vector<float> x;
  Shape shape;
  std::vector<float> expected;
};

// `run_threads` per run: 1, each request on its caller's thread, the callers
// giving the parallelism; 2, large requests taking turns on spruce's team
// leader (team_leader.h) with both cores each, small ones on their callers.
void Soak(const std::string& fixture_name, const Shape& item_shape,
          double seconds, int run_threads = 1) {
  const std::string path = temp_path(fixture_name + "_soak.spruce");
  converters::convert_onnx_file(fixture(fixture_name + "/model.onnx"), path,
                                {});
  EngineOptions options;
  options.num_threads = run_threads;
  const Engine engine = Engine::load(path, options);
  const std::string input = engine.inputs()[0].name;
  // Mixed batches, each with the result one caller gets alone. With two
  // threads per run, the small batches run on their callers and the large
  // ones (12 and 16 images) take turns on the team leader.
  const std::vector<int64_t> batches =
      run_threads == 1 ? std::vector<int64_t>{1, 2, 3, 4, 5}
                       : std::vector<int64_t>{1, 2, 12, 3, 16};
  std::vector<Case> cases;
  for (int64_t batch : batches) {
    Case c;
    c.shape = item_shape;
    c.shape[0] = batch;
    c.x.resize(element_count(c.shape));
    for (size_t i = 0; i < c.x.size(); ++i) {
      c.x[i] =
          std::sin(0.37f * static_cast<float>(i) + static_cast<float>(batch));
    }
    c.expected = engine.run({{input, c.x.data(), c.shape}})[0].values();
    cases.push_back(std::move(c));
  }
  constexpr int kThreads = 8;
  std::atomic<bool> stop{false};
  std::atomic<size_t> runs{0}, mismatches{0}, errors{0};
  std::atomic<int> warm{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<Tensor> out;
      size_t k = static_cast<size_t>(t);
      bool counted = false;
      while (!stop) {
        const Case& c = cases[k++ % cases.size()];
        try {
          engine.run({{input, c.x.data(), c.shape}}, &out);
          if (out[0].values() != c.expected) ++mismatches;
        } catch (const std::exception&) {
          ++errors;
        }
        ++runs;
        if (!counted && k >= static_cast<size_t>(t) + 2 * cases.size()) {
          counted = true;
          ++warm;
        }
      }
    });
  }
  while (warm < kThreads)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const size_t rss_warm = resident_bytes();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const size_t rss_end = resident_bytes();
  stop = true;
  for (auto& t : threads) t.join();
  std::cout << "[ soak     ] " << fixture_name << ": " << kThreads
            << " threads of " << run_threads << "-thread runs, " << seconds
            << " s, " << runs << " runs, RSS " << rss_warm / 1024 << " -> "
            << rss_end / 1024 << " KiB\n";
  EXPECT_EQ(mismatches.load(), 0u);
  EXPECT_EQ(errors.load(), 0u);
  EXPECT_GT(runs.load(), static_cast<size_t>(kThreads) * 10);
  // Flat: run states, workspaces and output tensors are reused. Under
  // AddressSanitizer freed memory sits in its quarantine (256 MiB), so RSS
  // grows by design there; LeakSanitizer checks for leaks instead.
#if defined(__SANITIZE_ADDRESS__) || SPRUCE_HAS_ASAN
  std::cout << "[ soak     ] RSS bound not checked under AddressSanitizer "
               "(quarantine); leaks are LeakSanitizer's\n";
#else
  EXPECT_LT(rss_end, rss_warm + (size_t{16} << 20));
#endif
}

TEST(Soak, EightThreadsShareOneEngineMlp) {
  Soak("mlp_pruned90", {1, 8, 16}, 2.0);
}
TEST(Soak, EightThreadsShareOneEngineCnn) {
  Soak("cnn_pruned90", {1, 3, 32, 32}, 2.0);
}
TEST(Soak, EightThreadsTakeTurnsOnAMultiThreadedEngineCnn) {
  Soak("cnn_pruned90", {1, 3, 32, 32}, 2.0, /*threads=*/2);
}

}  // namespace
}  // namespace spruce
