// The elementwise arithmetic kernel against its scalar reference on every
// compiled SIMD target: each operation, each operand full or repeated, row
// lengths with tails of every width, row steps wider than a row, and in
// place. Add, Sub, Mul and Div are exact in IEEE arithmetic, so results
// must match bit for bit.
#include "spruce/kernels/elementwise.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "hwy/tests/hwy_gtest.h"

namespace spruce::kernels {
namespace {

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(0.25f, 4.0f);
  std::bernoulli_distribution negative(0.5);
  std::vector<float> v(n);
  for (float& x : v) x = negative(rng) ? -uniform(rng) : uniform(rng);
  return v;
}

// Bit for bit, except that any NaN matches any NaN (payloads are the
// hardware's business).
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k) {
    if (std::isnan(a[k]) && std::isnan(b[k])) continue;
    if (std::memcmp(&a[k], &b[k], sizeof(float)) != 0) return false;
  }
  return true;
}

HWY_BEFORE_TEST(Elementwise);

TEST_P(Elementwise, EveryPatternMatchesReference) {
  const size_t rows = 3;
  for (const Arith op : {Arith::kAdd, Arith::kSub, Arith::kMul, Arith::kDiv}) {
    // 49 and 3136: 7×7 and 56×56 planes; 144: a channels-last row.
    for (const size_t n :
         {1u, 3u, 7u, 8u, 15u, 16u, 17u, 31u, 49u, 144u, 3141u}) {
      for (const bool repeat_a : {false, true}) {
        for (const bool repeat_b : {false, true}) {
          // Full rows `gap` floats apart (a row step wider than a row);
          // repeated values one per row, or one for all rows (step 0).
          const size_t gap = 5;
          const std::vector<float> av = random_values(rows * (n + gap), 1);
          const std::vector<float> bv = random_values(rows * (n + gap), 2);
          const ArithOperand a{av.data(), repeat_a ? 1 : n + gap, repeat_a};
          const ArithOperand b{bv.data(), repeat_b ? 0 : n, repeat_b};
          std::vector<float> y(rows * n, -1.0f), want(rows * n, -2.0f);
          arith_rows(op, a, b, rows, n, y.data());
          arith_rows_reference(op, a, b, rows, n, want.data());
          EXPECT_TRUE(same_bits(y, want))
              << "op " << static_cast<int>(op) << " n " << n << " repeat a "
              << repeat_a << " b " << repeat_b;
        }
      }
      // In place: y is the full operand a.
      std::vector<float> x = random_values(rows * n, 3);
      const std::vector<float> s = random_values(rows, 4);
      std::vector<float> want(rows * n);
      arith_rows_reference(op, {x.data(), n, false}, {s.data(), 1, true}, rows,
                           n, want.data());
      arith_rows(op, {x.data(), n, false}, {s.data(), 1, true}, rows, n,
                 x.data());
      EXPECT_TRUE(same_bits(x, want))
          << "in place, op " << static_cast<int>(op) << " n " << n;
    }
  }
}

TEST_P(Elementwise, SpecialValuesFollowIeee) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> a = {1.0f, -1.0f, 0.0f,  inf,    -inf,  nan,
                                0.0f, 3.0f,  -0.0f, 1e-38f, 3e38f, 2.0f};
  const std::vector<float> b = {0.0f,  0.0f, 0.0f, inf,   1.0f,  2.0f,
                                -0.0f, nan,  1.0f, 1e-3f, 10.0f, -inf};
  const size_t n = a.size();
  for (const Arith op : {Arith::kAdd, Arith::kSub, Arith::kMul, Arith::kDiv}) {
    std::vector<float> y(n), want(n);
    arith_rows(op, {a.data(), n, false}, {b.data(), n, false}, 1, n, y.data());
    arith_rows_reference(op, {a.data(), n, false}, {b.data(), n, false}, 1, n,
                         want.data());
    EXPECT_TRUE(same_bits(y, want)) << "op " << static_cast<int>(op);
  }
}

}  // namespace
}  // namespace spruce::kernels
