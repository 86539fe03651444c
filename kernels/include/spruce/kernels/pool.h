// Max and average pooling over 2-D windows (ONNX MaxPool, AveragePool), in
// either layout a neighbouring convolution produces:
//  - NCHW: each plane on its own, output columns in the vector lanes,
//    separably: an output row's window rows reduced into one row, then
//    the taps along it (stride 2 with deinterleaving loads, so two taps
//    cost one load pair). Border columns, and strides above 2, run scalar
//    on the reduced row.
//  - NHWC: channels in the lanes, each output pixel a reduction over its
//    window's pixels.
// Cells outside the image are ignored by max and by kAverage; kAverage
// divides by the cells inside the image, kAverageIncludePad by the whole
// window (kernel_h · kernel_w). A window with no cell inside the image
// gives the lowest float (max) or 0 (average).
#ifndef SPRUCE_KERNELS_POOL_H_
#define SPRUCE_KERNELS_POOL_H_

#include <cstddef>
#include <cstdint>

#include "spruce/kernels/window.h"

namespace spruce::kernels {

enum class PoolKind : uint8_t { kMax, kAverage, kAverageIncludePad };

// Planes [first, last) of NCHW x ([planes, H, W]: any number of images'
// channels in a row) into y ([planes, Ho, Wo]). s.channels is not read.
void pool_nchw(const WindowShape& s, PoolKind kind, const float* x, float* y,
               size_t first, size_t last);

// Output rows [first, last) of one NHWC image: x [H, W, C], y [Ho, Wo, C].
void pool_nhwc(const WindowShape& s, PoolKind kind, const float* x, float* y,
               size_t first, size_t last);

// The scalar reference, NCHW, one image of s.channels planes.
void pool_reference(const WindowShape& s, PoolKind kind, const float* x,
                    float* y);

}  // namespace spruce::kernels

#endif  // SPRUCE_KERNELS_POOL_H_
