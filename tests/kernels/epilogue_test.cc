// apply_epilogue against a scalar loop on every compiled SIMD target.
#include <gtest/gtest.h>

#include <vector>

#include "hwy/tests/hwy_gtest.h"
#include "spruce/kernels/epilogue.h"

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

}  // namespace
}  // namespace spruce::kernels
