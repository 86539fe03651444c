// Bias and activation over a finished product, for producers that cannot
// fuse them (oneDNN matmul runs its fast path only without a per-row bias in
// spruce's feature-major layout).
#ifndef SPRUCE_KERNELS_EPILOGUE_H_
#define SPRUCE_KERNELS_EPILOGUE_H_

#include <cstddef>

#include "spruce/kernels/spmm.h"

namespace spruce::kernels {

// y[r, j] = act(y[r, j] + bias[r]) for r < rows, j < n (row stride n).
// bias may be null.
void apply_epilogue(float* y, size_t rows, size_t n, const Epilogue& epilogue);

// y[r·n + j] = act(a[r·lda + j] + residual[r·n + j]) for r < rows, j < n:
// a residual connection's Add and the activation after it, over a product
// whose rows are lda apart (a convolution's, with junk columns past n). y
// may be residual (in place), not a.
void add_residual(const float* a, size_t lda, const float* residual,
                  size_t rows, size_t n, Activation activation, float* y);

}  // namespace spruce::kernels

#endif  // SPRUCE_KERNELS_EPILOGUE_H_
