// Transpose in 4×4 blocks of 128-bit vectors (two rounds of interleaves, on
// every Highway target), visited in 32×32 tiles so that the rows written
// stay in L1 while a tile's columns are read; edges scalar. Stride phases
// by deinterleaving loads.
#include <algorithm>
#include <cstddef>
#include <cstring>

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
    if constexpr (kStride == 3) hn::LoadInterleaved3(d, from, a, b, c);
    if constexpr (kStride == 4) hn::LoadInterleaved4(d, from, a, b, c, e);
    hn::StoreU(a, d, y + v);
    done = v + hn::Lanes(d);
  });
  return done;
}

// Rows of a phase plane are short (a 14x14 image's are 7 and 8 floats), so
// on AVX2 and up a row's tail is one partial vector, not a pass per width.
HWY_INLINE void ZeroSpan(float* HWY_RESTRICT y, size_t count) {
#if HWY_TARGET <= HWY_AVX2
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= count; i += lanes) hn::StoreU(hn::Zero(d), d, y + i);
  if (i < count) StorePartial(hn::Zero(d), count - i, d, y + i);
#else
  ForEachWidth(count,
               [&](auto d, size_t i) { hn::StoreU(hn::Zero(d), d, y + i); });
#endif
}

// ye[k] = x[2k] for 2k < n and, unless yo is null, yo[k] = x[2k + 1] for
// 2k + 1 < n: a row's two column phases under stride 2 in one pass. Reads
// only x[0, n).
HWY_INLINE void Deinterleave(const float* HWY_RESTRICT x, size_t n,
                             float* HWY_RESTRICT ye, float* HWY_RESTRICT yo) {
#if HWY_TARGET <= HWY_AVX2
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  for (size_t k = 0; 2 * k < n; k += lanes) {
    const size_t rest = n - 2 * k;  // floats of x from 2k on
    const auto lo = rest >= lanes
                        ? hn::LoadU(d, x + 2 * k)
                        : hn::MaskedLoad(hn::FirstN(d, rest), d, x + 2 * k);
    const auto hi =
        rest >= 2 * lanes
            ? hn::LoadU(d, x + 2 * k + lanes)
            : hn::MaskedLoad(hn::FirstN(d, rest > lanes ? rest - lanes : 0), d,
                             x + 2 * k + lanes);
    const size_t even = std::min(lanes, (rest + 1) / 2);
    const size_t odd = std::min(lanes, rest / 2);
    StoreFirstN(hn::ConcatEven(d, hi, lo), even, d, ye + k);
    if (yo != nullptr && odd > 0) {
      StoreFirstN(hn::ConcatOdd(d, hi, lo), odd, d, yo + k);
    }
  }
#else
  ForEachWidth(n / 2, [&](auto d, size_t i) {
    hn::Vec<decltype(d)> e, o;
    hn::LoadInterleaved2(d, x + 2 * i, e, o);
    hn::StoreU(e, d, ye + i);
    if (yo != nullptr) hn::StoreU(o, d, yo + i);
  });
  if (n % 2 != 0) ye[n / 2] = x[n - 1];
#endif
}

// y[v] = x[v · stride] for v < count: one column phase of a row.
HWY_INLINE void Gather(const float* HWY_RESTRICT x, size_t stride, size_t count,
                       float* HWY_RESTRICT y) {
  size_t v = 0;
  if (stride == 1) {
    std::memcpy(y, x, count * sizeof(float));
    return;
  }
  if (stride == 2) {
    if (count > 0) Deinterleave(x, 2 * count - 1, y, nullptr);
    return;
  }
  if (stride == 3) v = GatherVectors<3>(x, count, y);
  if (stride == 4) v = GatherVectors<4>(x, count, y);
  for (; v < count; ++v) y[v] = x[v * stride];
}

void SplitPhases(const float* HWY_RESTRICT x, const PhaseSplit& s,
                 float* HWY_RESTRICT planes) {
  auto ceil_div = [](size_t a, size_t d) { return (a + d - 1) / d; };
  // The source row of padded row u·sh + a, or null where that is padding.
  auto source = [&](size_t u, size_t a) -> const float* {
    const size_t i = u * s.sh + a;
    return i >= s.top && i - s.top < s.h ? x + (i - s.top) * s.w : nullptr;
  };
  // Stride 2 with both column phases read: each source row deinterleaved
  // once, its even columns to one plane and its odd ones to the other
  // (padded column j = c + left: c even lands in phase left % 2 at
  // c / 2 + left / 2, c odd in the other at c / 2 + (left + 1) / 2).
  const size_t evens = (s.w + 1) / 2, odds = s.w / 2;
  const size_t even_at = s.left / 2, odd_at = (s.left + 1) / 2;
  const bool pairs =
      s.sw == 2 && even_at + evens <= s.pitch && odd_at + odds <= s.pitch;
  for (size_t a = 0; a < s.sh; ++a) {
    const int* phase = s.phase_plane + a * s.sw;
    if (pairs && phase[0] >= 0 && phase[1] >= 0) {
      float* HWY_RESTRICT ye =
          planes + static_cast<size_t>(phase[s.left % 2]) * s.plane_size;
      float* HWY_RESTRICT yo =
          planes + static_cast<size_t>(phase[(s.left + 1) % 2]) * s.plane_size;
      for (size_t u = 0; u < s.rows; ++u, ye += s.pitch, yo += s.pitch) {
        const float* HWY_RESTRICT src = source(u, a);
        if (src == nullptr) {
          ZeroSpan(ye, s.pitch);
          ZeroSpan(yo, s.pitch);
          continue;
        }
        ZeroSpan(ye, even_at);
        ZeroSpan(yo, odd_at);
        Deinterleave(src, s.w, ye + even_at, yo + odd_at);
        ZeroSpan(ye + even_at + evens, s.pitch - even_at - evens);
        ZeroSpan(yo + odd_at + odds, s.pitch - odd_at - odds);
      }
      continue;
    }
    for (size_t b = 0; b < s.sw; ++b) {
      if (phase[b] < 0) continue;
      // Plane columns [v0, v1) carry the row: v·sw + b - left in [0, w).
      const size_t v0 =
          std::min(s.pitch, s.left > b ? ceil_div(s.left - b, s.sw) : 0);
      const size_t v1 = std::clamp(
          s.w + s.left > b ? ceil_div(s.w + s.left - b, s.sw) : 0, v0, s.pitch);
      float* HWY_RESTRICT y =
          planes + static_cast<size_t>(phase[b]) * s.plane_size;
      for (size_t u = 0; u < s.rows; ++u, y += s.pitch) {
        const float* HWY_RESTRICT src = source(u, a);
        if (src == nullptr || v1 == v0) {
          ZeroSpan(y, s.pitch);
          continue;
        }
        ZeroSpan(y, v0);
        Gather(src + (v0 * s.sw + b - s.left), s.sw, v1 - v0, y + v0);
        ZeroSpan(y + v1, s.pitch - v1);
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
HWY_EXPORT(SplitPhases);

void transpose(const float* x, size_t rows, size_t cols, size_t ldx, float* y,
               size_t ldy) {
  HWY_DYNAMIC_DISPATCH(Transpose)(x, rows, cols, ldx, y, ldy);
}

void split_phases(const float* x, const PhaseSplit& s, float* planes) {
  HWY_DYNAMIC_DISPATCH(SplitPhases)(x, s, planes);
}

void split_phases_reference(const float* x, const PhaseSplit& s,
                            float* planes) {
  for (size_t a = 0; a < s.sh; ++a) {
    for (size_t b = 0; b < s.sw; ++b) {
      const int plane = s.phase_plane[a * s.sw + b];
      if (plane < 0) continue;
      float* y = planes + static_cast<size_t>(plane) * s.plane_size;
      for (size_t u = 0; u < s.rows; ++u) {
        for (size_t v = 0; v < s.pitch; ++v) {
          // Padded pixel (i, j); unsigned wrap-around puts i < top past h.
          const size_t i = u * s.sh + a - s.top, j = v * s.sw + b - s.left;
          y[u * s.pitch + v] = i < s.h && j < s.w ? x[i * s.w + j] : 0.0f;
        }
      }
    }
  }
}

void transpose_reference(const float* x, size_t rows, size_t cols, size_t ldx,
                         float* y, size_t ldy) {
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) y[c * ldy + r] = x[r * ldx + c];
  }
}

}  // namespace spruce::kernels
#endif  // HWY_ONCE
