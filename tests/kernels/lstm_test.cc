// lstm_cell against its double-precision reference on every compiled SIMD
// target.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "hwy/tests/hwy_gtest.h"
#include "spruce/kernels/lstm.h"

namespace spruce::kernels {
namespace {

// |got - want| ≤ rel · |want|, with an absolute floor below the normal float
// range (where relative error means nothing).
void ExpectClose(const std::vector<float>& got, const std::vector<float>& want,
                 double rel, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t e = 0; e < got.size(); ++e) {
    const double tol = std::max(rel * std::abs(double{want[e]}), 1e-37);
    ASSERT_NEAR(got[e], want[e], tol) << what << " element " << e;
  }
}

struct Step {
  size_t count;
  std::vector<float> gx, gh, c_prev;
};

void ExpectMatchesReference(const Step& s, bool with_h, bool with_c,
                            double rel) {
  std::vector<float> c(s.count, -7.0f), h(s.count, -7.0f);
  std::vector<float> c_ref(s.count), h_ref(s.count);
  const float* gh = with_h ? s.gh.data() : nullptr;
  const float* cp = with_c ? s.c_prev.data() : nullptr;
  lstm_cell(s.gx.data(), gh, s.count, cp, c.data(), h.data());
  lstm_cell_reference(s.gx.data(), gh, s.count, cp, c_ref.data(), h_ref.data());
  ExpectClose(c, c_ref, rel, "c");
  ExpectClose(h, h_ref, rel, "h");
}

HWY_BEFORE_TEST(LstmCell);

// With no previous cell state c = σ(z_i)·tanh(z_c) and h = σ(z_o)·tanh(c):
// products of the gate functions, so their accuracy shows directly. The
// pre-activations sweep the whole useful range, including the saturated
// tails and values near zero where tanh must keep relative precision.
TEST_P(LstmCell, GateFunctionsKeepRelativePrecisionOverTheirRange) {
  Step s;
  std::vector<float> z;
  for (float x = -87.0f; x <= 87.0f; x += 0.173f) z.push_back(x);
  for (float x = 1e-30f; x < 1.0f; x *= 3.7f) {
    z.push_back(x);
    z.push_back(-x);
  }
  z.push_back(0.0f);
  s.count = z.size();
  s.gx.resize(4 * s.count);
  for (size_t e = 0; e < s.count; ++e) {
    // Every gate sees every argument, in a different order.
    s.gx[e] = z[e];                                   // i
    s.gx[s.count + e] = z[(e * 7 + 3) % s.count];     // o
    s.gx[2 * s.count + e] = z[(e * 13 + 5) % s.count];  // f (unused)
    s.gx[3 * s.count + e] = z[(e * 5 + 1) % s.count];   // c
  }
  // Two σ/tanh factors and a product: a handful of float ulps.
  ExpectMatchesReference(s, /*with_h=*/false, /*with_c=*/false, 1e-6);
}

// Random steps of every length around the vector width (tails included),
// with recurrent gates and a previous cell state. The cell update adds two
// terms that may cancel, so the bound is relative to their magnitude.
TEST_P(LstmCell, MatchesReferenceWithRecurrentGatesAndCellState) {
  std::mt19937 rng(42);
  std::normal_distribution<float> gate(0.0f, 3.0f);
  for (size_t count : {1, 2, 7, 15, 16, 17, 31, 33, 64, 100, 1023}) {
    Step s;
    s.count = count;
    s.gx.resize(4 * count);
    s.gh.resize(4 * count);
    s.c_prev.resize(count);
    for (float& v : s.gx) v = gate(rng);
    for (float& v : s.gh) v = gate(rng);
    for (float& v : s.c_prev) v = gate(rng);
    std::vector<float> c(count), h(count), c_ref(count), h_ref(count);
    lstm_cell(s.gx.data(), s.gh.data(), count, s.c_prev.data(), c.data(),
              h.data());
    lstm_cell_reference(s.gx.data(), s.gh.data(), count, s.c_prev.data(),
                        c_ref.data(), h_ref.data());
    for (size_t e = 0; e < count; ++e) {
      const double scale = std::abs(double{s.c_prev[e]}) + 1.0;
      ASSERT_NEAR(c[e], c_ref[e], 1e-6 * scale) << "count " << count << " e " << e;
      ASSERT_NEAR(h[e], h_ref[e], 2e-6) << "count " << count << " e " << e;
    }
    // Updating the cell state in place gives the same result.
    std::vector<float> c_inplace = s.c_prev, h2(count);
    lstm_cell(s.gx.data(), s.gh.data(), count, c_inplace.data(),
              c_inplace.data(), h2.data());
    EXPECT_EQ(c_inplace, c);
    EXPECT_EQ(h2, h);
  }
}

// Saturated gates give 1 and 0 (a denormal at most), never NaN, even far
// past exp's range.
TEST_P(LstmCell, SaturatesWithoutNaN) {
  const size_t count = 19;
  std::vector<float> gx(4 * count), c(count), h(count), c_prev(count, 2.0f);
  for (size_t e = 0; e < count; ++e) {
    const float big = (e % 2 == 0 ? 1.0f : -1.0f) * 1e30f;
    for (size_t g = 0; g < 4; ++g) gx[g * count + e] = big;
  }
  lstm_cell(gx.data(), nullptr, count, c_prev.data(), c.data(), h.data());
  for (size_t e = 0; e < count; ++e) {
    if (e % 2 == 0) {  // i = o = f = 1, g = 1: c = 2 + 1
      EXPECT_EQ(c[e], 3.0f) << e;
      EXPECT_NEAR(h[e], std::tanh(3.0), 1e-6) << e;
    } else {  // i = o = f = 0
      EXPECT_LE(std::abs(c[e]), 1e-37f) << e;
      EXPECT_LE(std::abs(h[e]), 1e-37f) << e;
    }
  }
}

}  // namespace
}  // namespace spruce::kernels
