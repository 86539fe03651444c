// Softmax, layer-norm, row-mean and column-mean kernels against their
// scalar references on every compiled SIMD target, over row lengths that
// exercise full vectors and tails, with in-place use.
#include "spruce/kernels/rows.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "hwy/tests/hwy_gtest.h"

namespace spruce::kernels {
namespace {

std::vector<float> random_values(size_t n, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.5f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

HWY_BEFORE_TEST(Rows);

TEST_P(Rows, SoftmaxMatchesReference) {
  for (size_t n : {1u, 3u, 16u, 17u, 128u, 131u}) {
    const size_t rows = 5;
    const std::vector<float> x = random_values(rows * n, 4.0f, 1);
    std::vector<float> y(rows * n), ref(rows * n);
    softmax_rows(x.data(), rows, n, y.data());
    softmax_rows_reference(x.data(), rows, n, ref.data());
    for (size_t k = 0; k < y.size(); ++k) {
      EXPECT_NEAR(y[k], ref[k], 1e-6f + 1e-5f * ref[k]) << "n " << n << " at " << k;
    }
    std::vector<float> in_place = x;
    softmax_rows(in_place.data(), rows, n, in_place.data());
    EXPECT_EQ(in_place, y);
  }
}

TEST_P(Rows, MeanMatchesReference) {
  // Row lengths of 7x7 to 112x112 planes, and tails of every size.
  for (size_t n : {1u, 5u, 16u, 49u, 64u, 65u, 196u, 3136u, 12544u}) {
    const size_t rows = 3;
    const std::vector<float> x = random_values(rows * n, 2.0f, 5);
    std::vector<float> y(rows), ref(rows);
    mean_rows(x.data(), rows, n, y.data());
    mean_rows_reference(x.data(), rows, n, ref.data());
    for (size_t r = 0; r < rows; ++r) {
      // Float sums of n values of magnitude ~2, against double ones.
      EXPECT_NEAR(y[r], ref[r], 1e-6f * static_cast<float>(n) + 1e-6f)
          << "n " << n << " row " << r;
    }
  }
}

TEST_P(Rows, MeanColumnsMatchesReference) {
  // Channel counts with tails of every width; pixel counts of 1×1 to 56×56
  // images.
  for (size_t n : {1u, 3u, 16u, 24u, 67u, 144u, 1152u}) {
    for (size_t rows : {1u, 7u, 49u, 3136u}) {
      const std::vector<float> x = random_values(rows * n, 2.0f, 6);
      std::vector<float> y(n + 1, -7.0f), ref(n);
      mean_columns(x.data(), rows, n, y.data());
      mean_columns_reference(x.data(), rows, n, ref.data());
      for (size_t c = 0; c < n; ++c) {
        // Float sums of `rows` values of magnitude ~2, against double ones.
        EXPECT_NEAR(y[c], ref[c], 1e-6f * static_cast<float>(rows) + 1e-6f)
            << "n " << n << " rows " << rows << " column " << c;
      }
      EXPECT_EQ(y[n], -7.0f) << "wrote past column n - 1";
    }
  }
}

TEST_P(Rows, LayerNormMatchesReference) {
  for (size_t n : {1u, 7u, 16u, 64u, 768u, 771u}) {
    const size_t rows = 4;
    const std::vector<float> x = random_values(rows * n, 3.0f, 2);
    const std::vector<float> scale = random_values(n, 1.0f, 3);
    const std::vector<float> bias = random_values(n, 1.0f, 4);
    for (const float* b : {bias.data(), static_cast<const float*>(nullptr)}) {
      std::vector<float> y(rows * n), ref(rows * n);
      layer_norm_rows(x.data(), rows, n, scale.data(), b, 1e-5f, y.data());
      layer_norm_rows_reference(x.data(), rows, n, scale.data(), b, 1e-5f,
                                ref.data());
      for (size_t k = 0; k < y.size(); ++k) {
        EXPECT_NEAR(y[k], ref[k], 2e-5f * (1.0f + std::fabs(ref[k])))
            << "n " << n << " at " << k;
      }
      std::vector<float> in_place = x;
      layer_norm_rows(in_place.data(), rows, n, scale.data(), b, 1e-5f,
                      in_place.data());
      EXPECT_EQ(in_place, y);
    }
  }
}

}  // namespace
}  // namespace spruce::kernels
