// The geometry of a 2-D sliding window over an image: what a depthwise
// convolution and a pool share. Output pixel (yo, xo) covers input pixels
// (yo·sh + i·dh − pad_top, xo·sw + j·dw − pad_left) for i < kernel_h,
// j < kernel_w; those outside the image are padding.
#ifndef SPRUCE_KERNELS_WINDOW_H_
#define SPRUCE_KERNELS_WINDOW_H_

#include <cstddef>

namespace spruce::kernels {

struct WindowShape {
  size_t channels = 0;                   // input channels C
  size_t height = 0, width = 0;          // input
  size_t out_height = 0, out_width = 0;  // output
  size_t kernel_h = 0, kernel_w = 0;
  size_t stride_h = 1, stride_w = 1;
  size_t dilation_h = 1, dilation_w = 1;
  size_t pad_top = 0, pad_left = 0;  // bottom/right follow from out_*

  size_t taps() const { return kernel_h * kernel_w; }
};

}  // namespace spruce::kernels

#endif  // SPRUCE_KERNELS_WINDOW_H_
