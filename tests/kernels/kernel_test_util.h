// Random matrices and vectors, and the activations, the kernel tests share.
#ifndef SPRUCE_TESTS_KERNELS_KERNEL_TEST_UTIL_H_
#define SPRUCE_TESTS_KERNELS_KERNEL_TEST_UTIL_H_

#include <algorithm>
#include <cstddef>
#include <random>
#include <vector>

#include "spruce/kernels/spmm.h"
#include "spruce/kernels/window.h"

namespace spruce::kernels::test_util {

// Every activation the kernels fuse.
inline constexpr Activation kActivations[] = {
    Activation::kNone,    Activation::kRelu,      Activation::kGelu,
    Activation::kSigmoid, Activation::kTanh,      Activation::kRelu6,
    Activation::kSilu,    Activation::kHardSwish, Activation::kHardSigmoid};

// Random weights where a fraction `sparsity` of entries is exactly 0.
inline std::vector<float> random_sparse(size_t rows, size_t cols,
                                        double sparsity, std::mt19937* rng) {
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  std::vector<float> w(rows * cols);
  for (float& v : w) v = keep(*rng) < sparsity ? 0.0f : value(*rng);
  return w;
}

// Random weights zero outside a random set of R×C blocks (a fraction
// `sparsity` of blocks dropped), with some zeros inside kept blocks too.
inline std::vector<float> random_block_sparse(size_t rows, size_t cols,
                                              size_t br, size_t bc,
                                              double sparsity,
                                              std::mt19937* rng) {
  std::vector<float> w = random_sparse(rows, cols, 0.1, rng);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  for (size_t r0 = 0; r0 < rows; r0 += br) {
    for (size_t c0 = 0; c0 < cols; c0 += bc) {
      if (keep(*rng) >= sparsity) continue;
      for (size_t r = r0; r < std::min(rows, r0 + br); ++r) {
        for (size_t c = c0; c < std::min(cols, c0 + bc); ++c)
          w[r * cols + c] = 0;
      }
    }
  }
  return w;
}

inline std::vector<float> uniform_values(size_t count, std::mt19937* rng) {
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (float& e : v) e = value(*rng);
  return v;
}

// A square window over an image, its output size from the padding at both
// ends.
inline WindowShape window_shape(size_t channels, size_t h, size_t w, size_t k,
                                size_t stride, size_t dilation,
                                size_t pad_begin, size_t pad_end) {
  WindowShape s;
  s.channels = channels;
  s.height = h;
  s.width = w;
  s.kernel_h = s.kernel_w = k;
  s.stride_h = s.stride_w = stride;
  s.dilation_h = s.dilation_w = dilation;
  s.pad_top = s.pad_left = pad_begin;
  const size_t span = (k - 1) * dilation + 1;
  s.out_height = (h + pad_begin + pad_end - span) / stride + 1;
  s.out_width = (w + pad_begin + pad_end - span) / stride + 1;
  return s;
}

// NCHW [C, H, W] → NHWC [H, W, C] of one image.
inline std::vector<float> to_nhwc(const std::vector<float>& x, size_t c,
                                  size_t pixels) {
  std::vector<float> y(x.size());
  for (size_t k = 0; k < c; ++k) {
    for (size_t p = 0; p < pixels; ++p) y[p * c + k] = x[k * pixels + p];
  }
  return y;
}

}  // namespace spruce::kernels::test_util

#endif  // SPRUCE_TESTS_KERNELS_KERNEL_TEST_UTIL_H_
