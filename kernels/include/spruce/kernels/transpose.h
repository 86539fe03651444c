// Matrix transpose, the layout change between feature-major activations
// (what the sparse kernels read) and row-major ones (what the row-wise ops
// and model outputs use), and an image channel split into a convolution's
// stride phases. Vectorized with Highway, tiled for the caches.
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

// One image channel [h, w] zero-padded and split into a convolution's
// stride phases, the planes a direct convolution reads: padded pixel (i, j)
// (x[i - top][j - left], zero outside the image) lands in plane
// phase_plane[(i % sh)·sw + j % sw], at row i / sh and column j / sw.
// Planes are plane_size floats apart, their rows pitch floats apart; a phase
// marked -1 (the window never reads it) is not written. Every written
// plane's first rows·pitch floats are written: what no pixel lands on is
// zero. sh = sw = 1 is a padded copy.
struct PhaseSplit {
  size_t h = 0, w = 0;               // the channel
  size_t sh = 1, sw = 1;             // the stride
  size_t top = 0, left = 0;          // padding before the first row and column
  size_t rows = 0, pitch = 0;        // each plane's rows, and floats per row
  size_t plane_size = 0;             // floats from one plane to the next
  const int* phase_plane = nullptr;  // sh·sw entries: plane index or -1
};
// Rows are deinterleaved in vectors (one pass over a source row for both
// column phases of stride 2; strides 3 and 4 one pass per phase, others
// scalar). Reads only x[0, h·w).
void split_phases(const float* x, const PhaseSplit& s, float* planes);
void split_phases_reference(const float* x, const PhaseSplit& s, float* planes);

}  // namespace spruce::kernels

#endif  // SPRUCE_KERNELS_TRANSPOSE_H_
