// The timed choice among candidates every op with several implementations
// uses (runtime/src/kernel_choice.h), on made-up timings, and the advice
// spruce inspect gives from what was chosen.
#include "kernel_choice.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "spruce/engine.h"

namespace spruce {
namespace {

enum class K { kDenseA, kDenseB, kSparseC, kSparseD };

TEST(KernelChoice, FastestPerProbeWithTheSparseMargin) {
  // Seconds per (kernel, batch).
  const std::map<std::pair<K, size_t>, double> times = {
      {{K::kDenseA, 1}, 10}, {{K::kDenseB, 1}, 8},  {{K::kSparseC, 1}, 7.8},
      {{K::kSparseD, 1}, 7}, {{K::kDenseA, 4}, 10}, {{K::kDenseB, 4}, 12},
      {{K::kSparseC, 4}, 9.6}, {{K::kSparseD, 4}, 20}, {{K::kDenseA, 16}, 30},
      {{K::kDenseB, 16}, 40}, {{K::kSparseC, 16}, 29}};
  std::vector<std::pair<K, size_t>> timed;
  KernelChoice<K> choice;
  choice.choose({{K::kDenseA, true},
                 {K::kDenseB, true},
                 {K::kSparseC, false},
                 {K::kSparseD, false, /*max_batch=*/4}},
                {1, 4, 16}, [&](K k, size_t batch) {
                  timed.emplace_back(k, batch);
                  return times.at({k, batch});
                });
  // D is never timed above its max_batch.
  EXPECT_EQ(timed.size(), 11u);
  const auto& r = choice.ranges();
  ASSERT_EQ(r.size(), 3u);
  // Batch 1: D (7) beats the fastest dense, B (8), by more than 5%.
  EXPECT_EQ(r[0].kernel, K::kSparseD);
  EXPECT_DOUBLE_EQ(r[0].speedup, 8.0 / 7.0);
  // Batch 4: C (9.6) beats A (10) by less than 5%: dense A runs.
  EXPECT_EQ(r[1].kernel, K::kDenseA);
  EXPECT_EQ(r[1].speedup, 1.0);
  // Batch 16: C (29) against A (30): under the margin again.
  EXPECT_EQ(r[2].kernel, K::kDenseA);
  EXPECT_EQ(choice.at(1).kernel, K::kSparseD);
  EXPECT_EQ(choice.at(3).kernel, K::kSparseD);
  EXPECT_EQ(choice.at(4).min_batch, 4u);
  EXPECT_EQ(choice.at(1000).min_batch, 16u);
  EXPECT_TRUE(choice.uses(K::kDenseA));
  EXPECT_FALSE(choice.uses(K::kDenseB));
  EXPECT_FALSE(choice.uses(K::kSparseC));
}

TEST(KernelChoice, WithoutDenseCandidatesTheFastestWins) {
  KernelChoice<K> choice;
  choice.choose({{K::kSparseC, false}, {K::kSparseD, false}}, {1},
                [](K k, size_t) { return k == K::kSparseC ? 2.0 : 1.0; });
  EXPECT_EQ(choice.at(7).kernel, K::kSparseD);
  EXPECT_EQ(choice.at(7).speedup, 1.0);
}

TEST(KernelChoice, FixedIsOneRangeForEveryBatch) {
  KernelChoice<K> choice;
  choice.fix(K::kSparseC);
  ASSERT_EQ(choice.ranges().size(), 1u);
  EXPECT_EQ(choice.at(1).kernel, K::kSparseC);
  EXPECT_EQ(choice.at(1u << 20).kernel, K::kSparseC);
}

// Alternatives that need setting up are timed in turn, round after round,
// each set up once per round and run three times (one untimed); each keeps
// the fastest of its timed runs.
TEST(KernelChoice, BestTimesInTurnAlternatesAndKeepsEachFastest) {
  const std::chrono::milliseconds sleep[] = {std::chrono::milliseconds(1),
                                             std::chrono::milliseconds(20)};
  std::vector<size_t> used;
  size_t current = 0;
  int runs = 0;
  const std::vector<double> best = best_times_in_turn(
      2,
      [&](size_t i) {
        used.push_back(i);
        current = i;
      },
      [&] {
        ++runs;
        std::this_thread::sleep_for(sleep[current]);
      },
      std::chrono::milliseconds(0), 3, 10);
  // No budget: the minimum of three rounds.
  EXPECT_EQ(used, (std::vector<size_t>{0, 1, 0, 1, 0, 1}));
  EXPECT_EQ(runs, 18);
  ASSERT_EQ(best.size(), 2u);
  EXPECT_GE(best[0], 0.001);
  EXPECT_GE(best[1], 0.020);
  EXPECT_LT(best[0], best[1]);
}

// Pruned layers that run dense are named, with their sparsity and share of
// the weights; dense layers, and pruned ones that run sparse, are not.
TEST(PruningAdvice, NamesPrunedLayersThatRunDense) {
  auto layer = [](const char* name, double sparsity, const char* kernel,
                  size_t bytes) {
    LayerInfo l;
    l.name = name;
    l.op = "Conv";
    l.weight_shape = {64, 576};
    l.sparsity = sparsity;
    l.dense_bytes = bytes;
    l.kernels.push_back({1, kernel, 1.0});
    return l;
  };
  std::vector<LayerInfo> layers = {
      layer("stem", 0.0, "onednn", 100),          // not pruned
      layer("layer1", 0.51, "onednn", 200),       // pruned, runs dense
      layer("layer2", 0.67, "onednn", 300),       // pruned, runs dense
      layer("layer3", 0.93, "sparse-csr", 400)};  // pays
  LayerInfo relu;
  relu.name = "relu";
  layers.push_back(relu);  // no weight: ignored
  const PruningAdvice advice = pruning_advice(layers);
  EXPECT_EQ(advice.layers, (std::vector<std::string>{"layer1", "layer2"}));
  EXPECT_DOUBLE_EQ(advice.min_sparsity, 0.51);
  EXPECT_DOUBLE_EQ(advice.max_sparsity, 0.67);
  EXPECT_DOUBLE_EQ(advice.weight_share, 0.5);
  EXPECT_EQ(advice.message(),
            "2 pruned layers run dense (50% of the weights): at 51-67% zeros "
            "the sparse kernels do not beat dense on this CPU, so those zeros "
            "save no time. Pruned to 80-90% each (per layer rather than "
            "globally) they would run sparse: layer1, layer2.");
  layers[1].kernels[0].kernel = "sparse-lookup";
  layers[2].sparsity = 0.1;
  EXPECT_TRUE(pruning_advice(layers).layers.empty());
  EXPECT_EQ(pruning_advice(layers).message(), "");
}

}  // namespace
}  // namespace spruce
