// Depthwise 2-D convolution (ONNX Conv with group == input channels): each
// output channel o filters input channel o / multiplier alone,
//   y[o, yo, xo] = act(bias[o] + Σ_{i,j} w[o, i, j] ·
//                      x[o / m, yo·sh + i·dh − pad_top, xo·sw + j·dw −
//                      pad_left])
// with taps outside the image reading zero. One image per call.
//
// Two layouts, so the op runs in whichever its neighbours produce:
//  - NCHW: each output plane is a 2-D stencil over one input plane, output
//    columns in the vector lanes. The plane's rows are copied once, zero
//    padded and split by column phase (stride sw), so every tap of a row of
//    outputs is one unaligned load per vector, whatever the stride; or, for
//    3×3 and 5×5 windows, every tap loaded straight from the plane with no
//    copy; or, for small planes, blocks of channels go through the NHWC
//    kernel (below).
//  - NHWC: channels in the lanes, a tile of output pixels per tap, weights
//    stored tap-major [kh·kw, O] (pack_depthwise_nhwc); multiplier 1 only.
// Both split the work so threads can each take a part: NCHW by output
// channel, NHWC by output row.
#ifndef SPRUCE_KERNELS_DEPTHWISE_H_
#define SPRUCE_KERNELS_DEPTHWISE_H_

#include <cstddef>
#include <vector>

#include "spruce/kernels/spmm.h"
#include "spruce/kernels/window.h"

namespace spruce::kernels {

struct DepthwiseShape : WindowShape {
  size_t multiplier = 1;  // output channels per input channel: O = C · m

  size_t out_channels() const { return channels * multiplier; }
};

// How the NCHW kernel puts a plane in vectors:
//  - kColumns: output columns in the lanes, the plane split in bands of rows
//    (each copied once, zero padded, split by column phase for a stride).
//  - kChannelBlocks: a block of lanes-many channels transposed to
//    channels-in-lanes, filtered as NHWC, transposed back: no lane wasted on
//    a plane narrower than a vector and no phase split for a stride, for
//    two transposes of the block. Multiplier 1 only (others run kColumns).
//  - kDirect: output columns in the lanes, every tap loaded straight from
//    the input planes (no copy; the image's first and last planes, whose
//    loads could reach past its ends, from a zero-padded copy), lanes
//    outside a row zeroed: K×K windows (K 3 or 5) with stride 1 or 2 both
//    ways, dilation 1 (others run kColumns; depthwise_direct_applies says
//    which). Fastest on small planes and at stride 2.
// Which is faster depends on the plane and the CPU; ConvOp times them.
enum class DepthwiseNchw { kColumns, kChannelBlocks, kDirect };

bool depthwise_direct_applies(const DepthwiseShape& s);

// Output channels [first, last) of one NCHW image: x [C, H, W], y [O, Ho,
// Wo], w [O, kh·kw] (ONNX's layout); epilogue.bias [O] or null
// (accumulate is not supported).
void depthwise_conv_nchw(const DepthwiseShape& s, const float* x,
                         const float* w, const Epilogue& epilogue, float* y,
                         size_t first, size_t last,
                         DepthwiseNchw method = DepthwiseNchw::kColumns);

// Output rows [first, last) of one NHWC image: x [H, W, C], y [Ho, Wo, C],
// `packed` from pack_depthwise_nhwc. Multiplier 1 only.
void depthwise_conv_nhwc(const DepthwiseShape& s, const float* x,
                         const float* packed, const Epilogue& epilogue,
                         float* y, size_t first, size_t last);

// w [O, kh·kw] → [kh·kw, O].
std::vector<float> pack_depthwise_nhwc(const DepthwiseShape& s, const float* w);

// The scalar reference, NCHW, the whole image.
void depthwise_conv_reference(const DepthwiseShape& s, const float* x,
                              const float* w, const Epilogue& epilogue,
                              float* y);

}  // namespace spruce::kernels

#endif  // SPRUCE_KERNELS_DEPTHWISE_H_
