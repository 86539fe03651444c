// Parameters of the windowed ops (Conv, MaxPool, AveragePool; 2-D, and 3-D
// for Conv3d and the pools) as stored in a .spruce file, and the output size
// rule both the converter and the runtime use. Activations are NCHW (NCDHW),
// as ONNX has them.
#ifndef SPRUCE_SPATIAL_PARAMS_H_
#define SPRUCE_SPATIAL_PARAMS_H_

#include <cstdint>

namespace spruce {

struct SpatialParams {
  // Spatial axes: 2 (H, W) or 3 (D, H, W); the arrays' first `rank`
  // entries (pads: the rank begins, then the rank ends) are used.
  uint32_t rank = 2;
  uint32_t kernel[3] = {1, 1, 1};         // kh, kw (kd, kh, kw)
  uint32_t strides[3] = {1, 1, 1};        // sh, sw
  uint32_t pads[6] = {0, 0, 0, 0, 0, 0};  // top, left, bottom, right
  uint32_t dilations[3] = {1, 1, 1};      // dh, dw
  uint32_t group = 1;                     // Conv
  bool ceil_mode = false;                 // pools: round the output size up
  bool count_include_pad = false;  // AveragePool: divide by the full window

  // Output size along spatial axis a for input size `in`, or -1 if the
  // input is unknown (-1) or smaller than one window. As ONNX defines it; with
  // ceil_mode a last window must start inside the input or its left padding.
  int64_t output_size(int a, int64_t in) const {
    if (in < 0) return -1;
    const int64_t window = int64_t{dilations[a]} * (kernel[a] - 1) + 1;
    const int64_t span = in + pads[a] + pads[a + rank] - window;
    if (span < 0) return -1;
    int64_t out = ceil_mode ? (span + strides[a] - 1) / strides[a] + 1
                            : span / strides[a] + 1;
    if (ceil_mode && (out - 1) * strides[a] >= in + pads[a]) --out;
    return out;
  }
};

}  // namespace spruce

#endif  // SPRUCE_SPATIAL_PARAMS_H_
