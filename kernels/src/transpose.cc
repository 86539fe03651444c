// Transpose in 4×4 blocks of 128-bit vectors (two rounds of interleaves, on
// every Highway target), visited in 32×32 tiles so that the rows written
// stay in L1 while a tile's columns are read; edges scalar. Strided gathers
// by deinterleaving loads.
#include <algorithm>
#include <cstddef>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/src/transpose.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/src/sweep-inl.h"
#include "spruce/kernels/transpose.h"

HWY_BEFORE_NAMESPACE();
namespace spruce::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// A 4×4 block at x (rows ldx apart) written transposed to y.
HWY_INLINE void Block4(const float* HWY_RESTRICT x, size_t ldx,
                       float* HWY_RESTRICT y, size_t ldy) {
#if HWY_TARGET == HWY_SCALAR
  for (size_t r = 0; r < 4; ++r) {
    for (size_t c = 0; c < 4; ++c) y[c * ldy + r] = x[r * ldx + c];
  }
#else
  const hn::Full128<float> d;
  const auto a = hn::LoadU(d, x);
  const auto b = hn::LoadU(d, x + ldx);
  const auto c = hn::LoadU(d, x + 2 * ldx);
  const auto e = hn::LoadU(d, x + 3 * ldx);
  const auto ac_lo = hn::InterleaveLower(d, a, c);  // a0 c0 a1 c1
  const auto be_lo = hn::InterleaveLower(d, b, e);  // b0 e0 b1 e1
  const auto ac_hi = hn::InterleaveUpper(d, a, c);  // a2 c2 a3 c3
  const auto be_hi = hn::InterleaveUpper(d, b, e);  // b2 e2 b3 e3
  hn::StoreU(hn::InterleaveLower(d, ac_lo, be_lo), d, y);
  hn::StoreU(hn::InterleaveUpper(d, ac_lo, be_lo), d, y + ldy);
  hn::StoreU(hn::InterleaveLower(d, ac_hi, be_hi), d, y + 2 * ldy);
  hn::StoreU(hn::InterleaveUpper(d, ac_hi, be_hi), d, y + 3 * ldy);
#endif
}

void Transpose(const float* HWY_RESTRICT x, size_t rows, size_t cols,
               size_t ldx, float* HWY_RESTRICT y, size_t ldy) {
  constexpr size_t kTile = 32;
  for (size_t r0 = 0; r0 < rows; r0 += kTile) {
    const size_t r1 = std::min(rows, r0 + kTile);
    const size_t r4 = r0 + (r1 - r0) / 4 * 4;
    for (size_t c0 = 0; c0 < cols; c0 += kTile) {
      const size_t c1 = std::min(cols, c0 + kTile);
      const size_t c4 = c0 + (c1 - c0) / 4 * 4;
      for (size_t c = c0; c < c4; c += 4) {
        for (size_t r = r0; r < r4; r += 4) {
          Block4(x + r * ldx + c, ldx, y + c * ldy + r, ldy);
        }
        for (size_t r = r4; r < r1; ++r) {
          for (size_t k = c; k < c + 4; ++k) y[k * ldy + r] = x[r * ldx + k];
        }
      }
      for (size_t c = c4; c < c1; ++c) {
        for (size_t r = r0; r < r1; ++r) y[c * ldy + r] = x[r * ldx + c];
      }
    }
  }
}

// Whole vectors of y while the vector's last source element is not past
// x[(count - 1) · stride]: LoadInterleavedN reads stride · lanes elements
// from x + v · stride, of which only the first of each group is kept.
template <size_t kStride>
HWY_INLINE size_t GatherVectors(const float* HWY_RESTRICT x, size_t count,
                                float* HWY_RESTRICT y) {
  size_t done = 0;
  // Vectors [v, v + lanes) need v + lanes <= count - 1 for the last group's
  // trailing elements to lie inside x's reach: one element short of count.
  ForEachWidth(count > 0 ? count - 1 : 0, [&](auto d, size_t v) {
    hn::Vec<decltype(d)> a, b, c, e;
    const float* HWY_RESTRICT from = x + v * kStride;
    if constexpr (kStride == 2) hn::LoadInterleaved2(d, from, a, b);
    if constexpr (kStride == 3) hn::LoadInterleaved3(d, from, a, b, c);
    if constexpr (kStride == 4) hn::LoadInterleaved4(d, from, a, b, c, e);
    hn::StoreU(a, d, y + v);
    done = v + hn::Lanes(d);
  });
  return done;
}

void GatherStride(const float* HWY_RESTRICT x, size_t stride, size_t count,
                  float* HWY_RESTRICT y) {
  size_t v = 0;
  if (stride == 2) v = GatherVectors<2>(x, count, y);
  if (stride == 3) v = GatherVectors<3>(x, count, y);
  if (stride == 4) v = GatherVectors<4>(x, count, y);
  for (; v < count; ++v) y[v] = x[v * stride];
}

}  // namespace HWY_NAMESPACE
}  // namespace spruce::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace spruce::kernels {

HWY_EXPORT(Transpose);
HWY_EXPORT(GatherStride);

void transpose(const float* x, size_t rows, size_t cols, size_t ldx, float* y,
               size_t ldy) {
  HWY_DYNAMIC_DISPATCH(Transpose)(x, rows, cols, ldx, y, ldy);
}

void gather_stride(const float* x, size_t stride, size_t count, float* y) {
  HWY_DYNAMIC_DISPATCH(GatherStride)(x, stride, count, y);
}

void gather_stride_reference(const float* x, size_t stride, size_t count,
                             float* y) {
  for (size_t v = 0; v < count; ++v) y[v] = x[v * stride];
}

void transpose_reference(const float* x, size_t rows, size_t cols, size_t ldx,
                         float* y, size_t ldy) {
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) y[c * ldy + r] = x[r * ldx + c];
  }
}

}  // namespace spruce::kernels
#endif  // HWY_ONCE
