// apply_epilogue against a scalar loop on every compiled SIMD target.
#include "spruce/kernels/epilogue.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "hwy/tests/hwy_gtest.h"

namespace spruce::kernels {
namespace {

HWY_BEFORE_TEST(Epilogue);

TEST_P(Epilogue, AddsBiasPerRowThenActivation) {
  for (size_t n : {1, 3, 16, 17, 40}) {
    const size_t rows = 7;
    std::vector<float> y(rows * n), bias(rows);
    for (size_t i = 0; i < y.size(); ++i) y[i] = static_cast<float>(i % 11) - 5.0f;
    for (size_t r = 0; r < rows; ++r) bias[r] = static_cast<float>(r) - 3.0f;
    for (Activation a : {Activation::kNone, Activation::kRelu}) {
      std::vector<float> out = y;
      apply_epilogue(out.data(), rows, n, {bias.data(), a});
      for (size_t r = 0; r < rows; ++r) {
        for (size_t j = 0; j < n; ++j) {
          float e = y[r * n + j] + bias[r];
          if (a == Activation::kRelu && e < 0) e = 0;
          ASSERT_EQ(out[r * n + j], e) << r << "," << j << " n=" << n;
        }
      }
    }
  }
}

// A residual Add over a product with junk columns past each row (lda > n),
// into a fresh output and in place over the residual.
TEST_P(Epilogue, AddsResidualThenActivation) {
  for (size_t n : {1, 5, 8, 13, 49, 56}) {
    const size_t rows = 3, lda = n + 3;
    std::vector<float> a(rows * lda), residual(rows * n);
    for (size_t i = 0; i < a.size(); ++i) {
      a[i] = static_cast<float>(i % 13) * 0.37f - 2.0f;
    }
    for (size_t i = 0; i < residual.size(); ++i) {
      residual[i] = static_cast<float>(i % 7) * 0.61f - 1.5f;
    }
    for (Activation act :
         {Activation::kNone, Activation::kRelu, Activation::kSilu}) {
      for (bool in_place : {false, true}) {
        std::vector<float> r = residual;
        std::vector<float> out(rows * n, -99.0f);
        float* y = in_place ? r.data() : out.data();
        add_residual(a.data(), lda, r.data(), rows, n, act, y);
        for (size_t i = 0; i < rows; ++i) {
          for (size_t j = 0; j < n; ++j) {
            const double want = activate_reference(
                double{a[i * lda + j]} + residual[i * n + j], act);
            ASSERT_NEAR(y[i * n + j], want, 4e-7 * std::fabs(want) + 1e-7)
                << "row " << i << " column " << j << " n=" << n
                << " activation " << static_cast<int>(act)
                << (in_place ? " in place" : "");
          }
        }
      }
    }
  }
}

// Each activation over its whole useful range, element by element against
// the double-precision reference: the kernels' exp, reciprocal and erfc
// approximations must hold in the tails too, not only on the [-1, 1] inputs
// the kernel tests draw. x runs over [-100, 100] in steps of 1/64 (vector
// bodies and scalar tails both), then a few values far outside.
TEST_P(Epilogue, EveryActivationHoldsOverItsRange) {
  std::vector<float> x;
  for (int i = -6400; i <= 6400; ++i) x.push_back(static_cast<float>(i) / 64);
  for (float v : {-1e30f, -1e6f, -87.5f, -86.9f, 88.5f, 1e6f, 1e30f}) {
    x.push_back(v);
  }
  for (Activation a :
       {Activation::kNone, Activation::kRelu, Activation::kRelu6,
        Activation::kGelu, Activation::kSigmoid, Activation::kTanh,
        Activation::kSilu, Activation::kHardSwish, Activation::kHardSigmoid}) {
    std::vector<float> out = x;
    apply_epilogue(out.data(), 1, out.size(), {nullptr, a});
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = activate_reference(x[i], a);
      // A few ulps relative, and absolutely what is below float's normal
      // range; except GELU, whose erfc in float loses 2^-24 · z² relative
      // to the rounding of z² in the tail, and the hard ones, whose
      // x / 6 + 1/2 cancels near x = -3 (an absolute error of an ulp of 1/2).
      const double rtol = a == Activation::kGelu ? 2e-5 : 4e-7;
      const double atol =
          a == Activation::kHardSwish || a == Activation::kHardSigmoid ? 1e-7
                                                                       : 1e-30;
      const double tolerance = rtol * std::fabs(want) + atol;
      ASSERT_LE(std::fabs(out[i] - want), tolerance)
          << "activation " << static_cast<int>(a) << " x=" << x[i] << " got "
          << out[i] << " want " << want;
    }
  }
}

}  // namespace
}  // namespace spruce::kernels
