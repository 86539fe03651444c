// The LSTM, GRU and RNN cell updates against their double-precision
// references on every compiled SIMD target.
#include "spruce/kernels/recurrent_cells.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "hwy/tests/hwy_gtest.h"

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
    s.gx[e] = z[e];                                     // i
    s.gx[s.count + e] = z[(e * 7 + 3) % s.count];       // o
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
      ASSERT_NEAR(c[e], c_ref[e], 1e-6 * scale)
          << "count " << count << " e " << e;
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

// Random gates around every vector width, with the tails; z, r and the
// candidate all mid-range and saturated.
std::vector<float> RandomGates(size_t n, std::mt19937* rng) {
  std::normal_distribution<float> gate(0.0f, 3.0f);
  std::vector<float> v(n);
  for (float& x : v) x = gate(*rng);
  return v;
}

const size_t kCounts[] = {1, 2, 7, 15, 16, 17, 31, 33, 64, 100, 1023};

HWY_BEFORE_TEST(GruCell);

// h = n + z·(h_prev − n): the two terms may cancel, so the bound is relative
// to their magnitude; in place (h aliasing h_prev) gives the same bits.
TEST_P(GruCell, MatchesReferenceBothCandidateForms) {
  std::mt19937 rng(7);
  for (bool lbr : {false, true}) {
    for (size_t count : kCounts) {
      const std::vector<float> gx = RandomGates(3 * count, &rng);
      const std::vector<float> gh = RandomGates(3 * count, &rng);
      const std::vector<float> prev = RandomGates(count, &rng);
      std::vector<float> h(count, -7.0f), want(count);
      gru_cell(gx.data(), gh.data(), count, prev.data(), lbr, h.data());
      gru_cell_reference(gx.data(), gh.data(), count, prev.data(), lbr,
                         want.data());
      for (size_t e = 0; e < count; ++e) {
        const double scale = std::abs(double{prev[e]}) + 1.0;
        ASSERT_NEAR(h[e], want[e], 2e-6 * scale)
            << "lbr " << lbr << " count " << count << " e " << e;
      }
      std::vector<float> in_place = prev;
      gru_cell(gx.data(), gh.data(), count, in_place.data(), lbr,
               in_place.data());
      EXPECT_EQ(in_place, h);
    }
  }
}

// With linear_before_reset the reset gate scales the candidate's recurrent
// term, without it it does not: a closed saturated reset gate tells them
// apart (z = 0 so h = n).
TEST_P(GruCell, ResetGateScalesTheRecurrentTermOnlyBeforeReset) {
  const size_t count = 21;
  std::vector<float> gx(3 * count, 0.0f), gh(3 * count, 0.0f);
  std::vector<float> prev(count, 5.0f), h(count);
  for (size_t e = 0; e < count; ++e) {
    gx[e] = -1e30f;            // z = 0
    gx[count + e] = -1e30f;    // r = 0
    gh[2 * count + e] = 0.5f;  // the recurrent term
  }
  gru_cell(gx.data(), gh.data(), count, prev.data(), true, h.data());
  // tanh(0 + 0·0.5), plus z·h_prev where z saturates to a denormal.
  for (float v : h) EXPECT_LE(std::abs(v), 1e-36f);
  gru_cell(gx.data(), gh.data(), count, prev.data(), false, h.data());
  for (float v : h) EXPECT_NEAR(v, std::tanh(0.5), 1e-6);
}

TEST_P(GruCell, ResetHiddenMatchesReference) {
  std::mt19937 rng(11);
  for (size_t count : kCounts) {
    const std::vector<float> gx = RandomGates(3 * count, &rng);
    const std::vector<float> gh = RandomGates(2 * count, &rng);
    const std::vector<float> prev = RandomGates(count, &rng);
    std::vector<float> got(count), want(count);
    gru_reset_hidden(gx.data(), gh.data(), count, prev.data(), got.data());
    gru_reset_hidden_reference(gx.data(), gh.data(), count, prev.data(),
                               want.data());
    ExpectClose(got, want, 1e-6, "reset_h");
  }
}

HWY_BEFORE_TEST(RnnCell);

TEST_P(RnnCell, MatchesReferenceForEachActivation) {
  std::mt19937 rng(3);
  for (CellActivation f : {CellActivation::kTanh, CellActivation::kRelu,
                           CellActivation::kSigmoid}) {
    for (size_t count : kCounts) {
      const std::vector<float> gx = RandomGates(count, &rng);
      const std::vector<float> gh = RandomGates(count, &rng);
      for (const float* recurrent :
           {gh.data(), static_cast<const float*>(nullptr)}) {
        std::vector<float> got(count), want(count);
        rnn_cell(gx.data(), recurrent, count, f, got.data());
        rnn_cell_reference(gx.data(), recurrent, count, f, want.data());
        // The sum gx + gh is one float rounding before f in the kernel.
        for (size_t e = 0; e < count; ++e) {
          const double scale = std::abs(double{gx[e]}) +
                               (recurrent ? std::abs(double{gh[e]}) : 0);
          ASSERT_NEAR(got[e], want[e], 1e-6 * std::max(scale, 1.0))
              << static_cast<int>(f) << " count " << count << " e " << e;
        }
      }
    }
  }
}

}  // namespace
}  // namespace spruce::kernels
