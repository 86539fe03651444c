// Depthwise convolution, NCHW (columns in the lanes from phased copies or
// straight from the planes, and channel blocks) and
// NHWC, against its scalar reference on every compiled SIMD target: windows
// 1×1 to 7×7, strides 1–3, dilation, planes in several bands of rows,
// asymmetric padding, planes narrower than a vector and wider than four,
// channel counts off the vector width, channel multipliers, every fused
// activation, and the work split in parts as threads run it.
#include "spruce/kernels/depthwise.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "hwy/tests/hwy_gtest.h"
#include "kernels/kernel_test_util.h"

namespace spruce::kernels {
namespace {

DepthwiseShape make_shape(size_t channels, size_t multiplier, size_t h,
                          size_t w, size_t k, size_t stride, size_t dilation,
                          size_t pad_begin, size_t pad_end) {
  DepthwiseShape s;
  static_cast<WindowShape&>(s) = test_util::window_shape(
      channels, h, w, k, stride, dilation, pad_begin, pad_end);
  s.multiplier = multiplier;
  return s;
}

std::string describe(const DepthwiseShape& s, Activation a) {
  return "C=" + std::to_string(s.channels) +
         " m=" + std::to_string(s.multiplier) + " " + std::to_string(s.height) +
         "x" + std::to_string(s.width) + " k=" + std::to_string(s.kernel_h) +
         " stride=" + std::to_string(s.stride_w) +
         " dilation=" + std::to_string(s.dilation_w) +
         " pad=" + std::to_string(s.pad_left) + " -> " +
         std::to_string(s.out_height) + "x" + std::to_string(s.out_width) +
         " activation=" + std::to_string(static_cast<int>(a));
}

void expect_matches(const std::vector<float>& got,
                    const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    // Sums of up to 49 products of values in [-1, 1].
    ASSERT_LE(std::abs(got[i] - want[i]), 2e-5f + 1e-5f * std::abs(want[i]))
        << what << " at " << i << ": " << got[i] << " vs " << want[i];
  }
}

std::vector<DepthwiseShape> shapes() {
  std::vector<DepthwiseShape> all = {
      make_shape(3, 1, 7, 7, 3, 1, 1, 1, 1),
      make_shape(16, 1, 14, 14, 3, 1, 1, 1, 1),
      make_shape(24, 1, 56, 56, 3, 2, 1, 1, 1),  // MobileNet's downsampling
      make_shape(40, 1, 28, 28, 5, 1, 1, 2, 2),  // EfficientNet's 5×5
      make_shape(13, 1, 15, 15, 5, 2, 1, 2, 2),
      make_shape(37, 1, 9, 67, 3, 1, 1, 1, 1),   // wider than 4 vectors
      make_shape(8, 1, 1, 1, 3, 1, 1, 1, 1),     // one pixel, border only
      make_shape(5, 1, 2, 3, 3, 1, 1, 2, 0),     // window bigger than image
      make_shape(17, 1, 12, 10, 3, 3, 1, 0, 2),  // stride 3, odd padding
      make_shape(9, 1, 16, 16, 3, 1, 2, 2, 2),   // dilation 2
      make_shape(6, 1, 11, 20, 7, 1, 1, 3, 3),   // 7×7: no specialization
      make_shape(20, 1, 8, 8, 1, 1, 1, 0, 0),    // 1×1
      make_shape(4, 2, 10, 10, 3, 1, 1, 1, 1),   // channel multiplier 2
      make_shape(3, 3, 9, 13, 3, 2, 1, 1, 0),
      // Planes of several bands of rows (NCHW columns): 3×3 stride 1, 5×5
      // stride 2 with a multiplier (each band split once per input
      // channel), stride 3 and dilation 2 (the unspecialized stencil).
      make_shape(3, 1, 112, 112, 3, 1, 1, 1, 1),
      make_shape(2, 2, 90, 70, 5, 2, 1, 2, 2),
      make_shape(3, 1, 120, 40, 3, 3, 1, 1, 1),
      make_shape(2, 1, 100, 30, 3, 1, 2, 2, 2),
      // The direct kernel's borders: padding only after (stride 2), rows
      // wider than two AVX-512 vectors with a partial one, no padding.
      make_shape(5, 1, 33, 33, 3, 2, 1, 0, 1),
      make_shape(7, 1, 20, 45, 5, 1, 1, 2, 2),
      make_shape(3, 1, 29, 37, 5, 2, 1, 2, 2),
      make_shape(4, 1, 9, 40, 3, 1, 1, 0, 0),
  };
  // Asymmetric window: 1×5 with its own padding.
  DepthwiseShape a = make_shape(19, 1, 6, 21, 1, 1, 1, 0, 0);
  a.kernel_w = 5;
  a.pad_left = 2;
  a.out_width = 21;
  all.push_back(a);
  return all;
}

HWY_BEFORE_TEST(Depthwise);

TEST_P(Depthwise, NchwMatchesReference) {
  std::mt19937 rng(5);
  for (const DepthwiseShape& s : shapes()) {
    const auto x =
        test_util::uniform_values(s.channels * s.height * s.width, &rng);
    const auto w = test_util::uniform_values(s.out_channels() * s.taps(), &rng);
    const auto bias = test_util::uniform_values(s.out_channels(), &rng);
    const size_t out = s.out_channels() * s.out_height * s.out_width;
    for (Activation a : test_util::kActivations) {
      const Epilogue e{a == Activation::kNone ? nullptr : bias.data(), a};
      std::vector<float> want(out), got(out, -99.0f);
      depthwise_conv_reference(s, x.data(), w.data(), e, want.data());
      for (DepthwiseNchw method :
           {DepthwiseNchw::kColumns, DepthwiseNchw::kChannelBlocks,
            DepthwiseNchw::kDirect}) {
        // In two parts, as two threads split the channels (one part may be
        // empty; a part's channel blocks start where it does).
        std::fill(got.begin(), got.end(), -99.0f);
        const size_t half = s.out_channels() / 2;
        depthwise_conv_nchw(s, x.data(), w.data(), e, got.data(), 0, half,
                            method);
        depthwise_conv_nchw(s, x.data(), w.data(), e, got.data(), half,
                            s.out_channels(), method);
        const char* name = method == DepthwiseNchw::kColumns ? "NCHW columns "
                           : method == DepthwiseNchw::kChannelBlocks
                               ? "NCHW blocks "
                               : "NCHW direct ";
        expect_matches(got, want, name + describe(s, a));
      }
    }
  }
}

TEST_P(Depthwise, NhwcMatchesReference) {
  std::mt19937 rng(6);
  for (const DepthwiseShape& s : shapes()) {
    if (s.multiplier != 1) continue;  // NHWC runs multiplier 1 only
    const auto x =
        test_util::uniform_values(s.channels * s.height * s.width, &rng);
    const auto w = test_util::uniform_values(s.out_channels() * s.taps(), &rng);
    const auto bias = test_util::uniform_values(s.out_channels(), &rng);
    const std::vector<float> packed = pack_depthwise_nhwc(s, w.data());
    const std::vector<float> x_nhwc =
        test_util::to_nhwc(x, s.channels, s.height * s.width);
    const size_t pixels = s.out_height * s.out_width;
    for (Activation a : test_util::kActivations) {
      const Epilogue e{a == Activation::kNone ? nullptr : bias.data(), a};
      std::vector<float> want(s.out_channels() * pixels), got(want.size(), -99);
      depthwise_conv_reference(s, x.data(), w.data(), e, want.data());
      const size_t half = s.out_height / 2;
      depthwise_conv_nhwc(s, x_nhwc.data(), packed.data(), e, got.data(), 0,
                          half);
      depthwise_conv_nhwc(s, x_nhwc.data(), packed.data(), e, got.data(), half,
                          s.out_height);
      expect_matches(got, test_util::to_nhwc(want, s.out_channels(), pixels),
                     "NHWC " + describe(s, a));
    }
  }
}

}  // namespace
}  // namespace spruce::kernels
