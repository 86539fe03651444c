// Transpose in 4×4 blocks of 128-bit vectors (two rounds of interleaves, on
// every Highway target), visited in 32×32 tiles so that the rows written
// stay in L1 while a tile's columns are read; edges scalar.
#include <algorithm>
#include <cstddef>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/src/transpose.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
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

}  // namespace HWY_NAMESPACE
}  // namespace spruce::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace spruce::kernels {

HWY_EXPORT(Transpose);

void transpose(const float* x, size_t rows, size_t cols, size_t ldx, float* y,
               size_t ldy) {
  HWY_DYNAMIC_DISPATCH(Transpose)(x, rows, cols, ldx, y, ldy);
}

void transpose_reference(const float* x, size_t rows, size_t cols, size_t ldx,
                         float* y, size_t ldy) {
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) y[c * ldy + r] = x[r * ldx + c];
  }
}

}  // namespace spruce::kernels
#endif  // HWY_ONCE
