// Row-wise kernels: softmax and layer normalization of Transformer encoders,
// and row means (a global average pool over NCHW planes), over the
// contiguous last dimension; column means (the same pool channels-last).
// Vectorized with Highway and dispatched to the best target at run time,
// plus scalar references for tests.
#ifndef SPRUCE_KERNELS_ROWS_H_
#define SPRUCE_KERNELS_ROWS_H_

#include <cstddef>

namespace spruce::kernels {

// y[r, :] = softmax(x[r, :]) for r < rows (n columns, row stride n),
// computed as exp(x - max) / sum. y may equal x.
void softmax_rows(const float* x, size_t rows, size_t n, float* y);
void softmax_rows_reference(const float* x, size_t rows, size_t n, float* y);

// y[r, :] = (x[r, :] - mean) / sqrt(var + epsilon) · scale + bias, with the
// biased variance over the row; bias may be null. y may equal x.
void layer_norm_rows(const float* x, size_t rows, size_t n, const float* scale,
                     const float* bias, float epsilon, float* y);
void layer_norm_rows_reference(const float* x, size_t rows, size_t n,
                               const float* scale, const float* bias,
                               float epsilon, float* y);

// y[r] = mean of x[r, 0:n] for r < rows (row stride n), summed in float
// over several vector accumulators.
void mean_rows(const float* x, size_t rows, size_t n, float* y);
void mean_rows_reference(const float* x, size_t rows, size_t n, float* y);

// y[c] = mean of x[0:rows, c] for c < n (row stride n): a global average
// pool over a channels-last image of `rows` pixels and n channels, summed
// in float.
void mean_columns(const float* x, size_t rows, size_t n, float* y);
void mean_columns_reference(const float* x, size_t rows, size_t n, float* y);

}  // namespace spruce::kernels

#endif  // SPRUCE_KERNELS_ROWS_H_
