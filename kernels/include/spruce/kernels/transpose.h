// Matrix transpose, the layout change between feature-major activations
// (what the sparse kernels read) and row-major ones (what the row-wise ops
// and model outputs use), and strided gathers (a row's phases under a
// convolution's stride). Vectorized with Highway, tiled for the caches.
#ifndef SPRUCE_KERNELS_TRANSPOSE_H_
#define SPRUCE_KERNELS_TRANSPOSE_H_

#include <cstddef>

namespace spruce::kernels {

// y[c * ldy + r] = x[r * ldx + c] for r < rows, c < cols. x and y must not
// overlap.
void transpose(const float* x, size_t rows, size_t cols, size_t ldx, float* y,
               size_t ldy);
void transpose_reference(const float* x, size_t rows, size_t cols, size_t ldx,
                         float* y, size_t ldy);

// y[v] = x[v · stride] for v < count: one phase of a row split by a
// convolution's stride (2, 3 and 4 deinterleaved in vectors, others
// scalar). Reads nothing past x[(count - 1) · stride].
void gather_stride(const float* x, size_t stride, size_t count, float* y);
void gather_stride_reference(const float* x, size_t stride, size_t count,
                             float* y);

}  // namespace spruce::kernels

#endif  // SPRUCE_KERNELS_TRANSPOSE_H_
