// Max and average pooling, NCHW and NHWC, against the scalar reference on
// every compiled SIMD target: windows 1×1 to 7×7, strides 1–3, dilation,
// asymmetric and ceil-mode padding (windows past the padded image),
// planes narrower than a vector and wider than several, channel counts off
// the vector width, and the work split in parts as threads run it.
#include "spruce/kernels/pool.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "hwy/tests/hwy_gtest.h"
#include "kernels/kernel_test_util.h"

namespace spruce::kernels {
namespace {

using test_util::window_shape;

std::vector<WindowShape> shapes() {
  std::vector<WindowShape> all = {
      window_shape(64, 112, 112, 3, 2, 1, 1, 1),  // ResNet's max pool
      window_shape(3, 56, 56, 2, 2, 1, 0, 0),     // VGG's 2×2
      window_shape(5, 17, 33, 3, 1, 1, 1, 1),     // stride 1, odd sizes
      window_shape(4, 15, 15, 3, 2, 1, 0, 1),     // ceil mode: past the end
      window_shape(3, 13, 29, 5, 2, 1, 2, 2),     // 5×5 stride 2
      window_shape(2, 9, 70, 3, 2, 2, 2, 2),      // stride 2, dilation 2
      window_shape(6, 20, 20, 3, 3, 1, 1, 1),     // stride 3: scalar
      window_shape(7, 7, 7, 7, 1, 1, 3, 3),       // 7×7 over 7×7
      window_shape(3, 8, 8, 1, 1, 1, 0, 0),       // 1×1
      window_shape(17, 1, 1, 3, 1, 1, 1, 1),      // one pixel
      window_shape(2, 3, 4, 3, 1, 2, 0, 3),       // dilated past the end
      window_shape(33, 6, 5, 2, 1, 1, 1, 0),      // C past 2 vectors
  };
  // Asymmetric 1×4 window with its own stride and padding.
  WindowShape a = window_shape(5, 6, 23, 1, 1, 1, 0, 0);
  a.kernel_w = 4;
  a.stride_w = 2;
  a.pad_left = 1;
  a.out_width = (23 + 1 + 2 - 4) / 2 + 1;
  all.push_back(a);
  return all;
}

std::string describe(const WindowShape& s, PoolKind kind) {
  const char* kinds[] = {"max", "average", "average-include-pad"};
  return std::string(kinds[static_cast<int>(kind)]) +
         " C=" + std::to_string(s.channels) + " " + std::to_string(s.height) +
         "x" + std::to_string(s.width) + " k=" + std::to_string(s.kernel_h) +
         "x" + std::to_string(s.kernel_w) +
         " stride=" + std::to_string(s.stride_w) +
         " dilation=" + std::to_string(s.dilation_w) +
         " pad=" + std::to_string(s.pad_left) + " -> " +
         std::to_string(s.out_height) + "x" + std::to_string(s.out_width);
}

void expect_matches(const std::vector<float>& got,
                    const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    // Max is exact; averages of up to 49 values in [-1, 1] summed in float.
    ASSERT_LE(std::abs(got[i] - want[i]), 1e-6f + 1e-5f * std::abs(want[i]))
        << what << " at " << i << ": " << got[i] << " vs " << want[i];
  }
}

constexpr PoolKind kKinds[] = {PoolKind::kMax, PoolKind::kAverage,
                               PoolKind::kAverageIncludePad};

HWY_BEFORE_TEST(Pool);

TEST_P(Pool, NchwMatchesReference) {
  std::mt19937 rng(7);
  for (const WindowShape& s : shapes()) {
    const auto x =
        test_util::uniform_values(s.channels * s.height * s.width, &rng);
    const size_t out = s.channels * s.out_height * s.out_width;
    for (PoolKind kind : kKinds) {
      std::vector<float> want(out), got(out, -99.0f);
      pool_reference(s, kind, x.data(), want.data());
      // In two parts, as two threads split the planes.
      const size_t half = s.channels / 2;
      pool_nchw(s, kind, x.data(), got.data(), 0, half);
      pool_nchw(s, kind, x.data(), got.data(), half, s.channels);
      expect_matches(got, want, "NCHW " + describe(s, kind));
    }
  }
}

TEST_P(Pool, NhwcMatchesReference) {
  std::mt19937 rng(8);
  for (const WindowShape& s : shapes()) {
    const auto x =
        test_util::uniform_values(s.channels * s.height * s.width, &rng);
    const auto x_nhwc = test_util::to_nhwc(x, s.channels, s.height * s.width);
    const size_t pixels = s.out_height * s.out_width;
    for (PoolKind kind : kKinds) {
      std::vector<float> want(s.channels * pixels), got(want.size(), -99.0f);
      pool_reference(s, kind, x.data(), want.data());
      // In two parts, as two threads split the output rows.
      const size_t half = s.out_height / 2;
      pool_nhwc(s, kind, x_nhwc.data(), got.data(), 0, half);
      pool_nhwc(s, kind, x_nhwc.data(), got.data(), half, s.out_height);
      expect_matches(got, test_util::to_nhwc(want, s.channels, pixels),
                     "NHWC " + describe(s, kind));
    }
  }
}

// A window entirely in the padding: the lowest float for max (what
// oneDNN's pooling gives), 0 for the averages.
TEST_P(Pool, WindowOutsideTheImage) {
  WindowShape s = window_shape(1, 2, 2, 1, 1, 1, 0, 0);
  s.pad_top = 1;  // output row 0 reads input row -1 only
  s.out_height = 3;
  const std::vector<float> x = {1.0f, 2.0f, 3.0f, 4.0f};
  for (PoolKind kind : kKinds) {
    std::vector<float> y(6, -99.0f);
    pool_nchw(s, kind, x.data(), y.data(), 0, 1);
    const float empty =
        kind == PoolKind::kMax ? std::numeric_limits<float>::lowest() : 0.0f;
    const std::vector<float> want = {empty, empty, 1.0f, 2.0f, 3.0f, 4.0f};
    EXPECT_EQ(y, want) << describe(s, kind);
  }
}

}  // namespace
}  // namespace spruce::kernels
