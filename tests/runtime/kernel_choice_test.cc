// The timed choice among candidates every op with several implementations
// uses (runtime/src/kernel_choice.h), on made-up timings.
#include "kernel_choice.h"

#include <gtest/gtest.h>

#include <map>
#include <utility>
#include <vector>

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

}  // namespace
}  // namespace spruce
