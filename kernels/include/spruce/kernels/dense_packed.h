// Dense weights times a few rows of activations:
// Y[n × out] = act(X[n × in] · Wᵀ + bias), for the small n (batch-1 latency,
// LSTM steps, n up to about 16) where the product is bound by streaming W
// from memory. W is packed once at load into panels of panel_width output
// features: panel p holds W[p·P : (p+1)·P, :] transposed, [in × P] (zero
// rows past `out`), so a pass streams each panel once, front to back, and
// each of its rows is a few whole vectors of outputs.
//
// The panel width is the running CPU's choice (four vectors of its best
// SIMD target): pack with dense_panel_width() on the machine that runs the
// kernel, which loading a model always does.
#ifndef SPRUCE_KERNELS_DENSE_PACKED_H_
#define SPRUCE_KERNELS_DENSE_PACKED_H_

#include <cstddef>

#include "spruce/kernels/spmm.h"

namespace spruce::kernels {

struct PackedDenseView {
  size_t out = 0;
  size_t in = 0;
  size_t panel_width = 0;
  const float* panels = nullptr;  // panel_count() × in × panel_width floats

  size_t panel_count() const {
    return panel_width == 0 ? 0 : (out + panel_width - 1) / panel_width;
  }
};

// The panel width gemm_packed wants on this CPU.
size_t dense_panel_width();

// Floats of packed storage for W [out × in] in panels of `panel_width`.
size_t packed_dense_floats(size_t out, size_t in, size_t panel_width);

// packed = W [out × in] (row-major, row stride `ldw`) in panels.
void pack_dense(const float* w, size_t out, size_t in, size_t ldw,
                size_t panel_width, float* packed);

// Y[j, o] = act(sum_k X[j, k] · W[o, k] + bias[o]) for rows j < n and the
// outputs of panels [panel_begin, panel_end) (threads split panels).
// X's element (j, k) is at x[j * x_row_stride + k * x_col_stride]: row-major
// (in, 1) or feature-major (1, n). Y is row-major, rows ldy apart. With
// epilogue.accumulate, the product is added to what Y holds.
void gemm_packed(const PackedDenseView& w, const float* x, size_t x_row_stride,
                 size_t x_col_stride, size_t n, float* y, size_t ldy,
                 const Epilogue& epilogue, size_t panel_begin,
                 size_t panel_end);

// The scalar reference (double accumulation) on W as it was before packing
// ([out × in], row-major), for outputs [out_begin, out_end) of the same
// product; tests compare pack_dense + gemm_packed against it.
void dense_gemm_reference(const float* w, size_t in, const float* x,
                          size_t x_row_stride, size_t x_col_stride, size_t n,
                          float* y, size_t ldy, const Epilogue& epilogue,
                          size_t out_begin, size_t out_end);

}  // namespace spruce::kernels

#endif  // SPRUCE_KERNELS_DENSE_PACKED_H_
