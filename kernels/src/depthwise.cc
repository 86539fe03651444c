// Highway depthwise convolution, NCHW and NHWC (see depthwise.h), and its
// scalar reference.
#include "spruce/kernels/depthwise.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "spruce/kernels/transpose.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/src/depthwise.cc"
#include "hwy/aligned_allocator.h"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/src/activation-inl.h"
#include "kernels/src/sweep-inl.h"
#include "kernels/src/window_taps.h"

HWY_BEFORE_NAMESPACE();
namespace spruce::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// ---------------------------------------------------------------- NCHW
// A band of a plane's rows as the stencil reads it, zero padded on every
// side so no tap is ever clipped: buffer row t of a band whose first output
// row is y0 holds padded row y0·sh + t (input row y0·sh + t − pad_top); its
// phase r (r < sw) holds P[sw·j + r] for j < lq, where P is the input row
// shifted right by pad_left with zeros around it. Output (yo, xo)'s tap
// (ky, kx) then reads buffer row (yo − y0)·sh + ky·dh, phase (kx·dw) mod sw,
// at j = xo + (kx·dw) div sw.
//
// A plane goes through in bands of output rows sized so the band's input
// rows stay in L1 (kBandFloats) while the stencil reads them: a whole
// 112×112 plane's rows (58 KB) did not, so every row was written out to L2
// by the copy and read back by the stencil.
struct PhasedRows {
  size_t lq = 0;    // floats per phase row, a whole number of vectors
  size_t span = 0;  // input rows one output row's window covers
  size_t band = 0;  // output rows per band
  size_t rows = 0;  // buffer rows: what a band's windows reach
  hwy::AlignedFreeUniquePtr<float[]> data;    // [rows][sw][lq]
  hwy::AlignedFreeUniquePtr<float[]> padded;  // one padded row, sw·lq
};

constexpr size_t kBandFloats = 4096;  // 16 KB of input rows per band

// Zeroed once: SplitBand writes only the pixels inside the image, and zeroes
// a buffer row whole where it holds a padding row.
PhasedRows MakePhasedRows(const DepthwiseShape& s, size_t lanes) {
  PhasedRows p;
  const size_t wo = hwy::DivCeil(s.out_width, lanes) * lanes;
  const size_t reach = (s.kernel_w - 1) * s.dilation_w / s.stride_w;
  p.lq = hwy::DivCeil(wo + reach, lanes) * lanes;
  p.span = (s.kernel_h - 1) * s.dilation_h + 1;
  const size_t row_floats = s.stride_w * p.lq;
  const size_t fit = kBandFloats / row_floats;  // buffer rows that fit
  size_t band = fit > p.span ? (fit - p.span) / s.stride_h + 1 : 1;
  band = std::max<size_t>(band / 4 * 4, 4);  // whole groups of four rows
  p.band = std::min(band, s.out_height);
  p.rows = (p.band - 1) * s.stride_h + p.span;
  const size_t floats = p.rows * row_floats;
  p.data = hwy::AllocateAligned<float>(floats);
  p.padded = hwy::AllocateAligned<float>(row_floats);
  std::fill(p.data.get(), p.data.get() + floats, 0.0f);
  std::fill(p.padded.get(), p.padded.get() + row_floats, 0.0f);
  return p;
}

// to[0:n] = from[0:n], whole vectors then narrower ones: no library call
// (rows of small planes are a few floats) and no read past from[n - 1].
HWY_INLINE void CopyRow(const float* HWY_RESTRICT from, size_t n,
                        float* HWY_RESTRICT to) {
  ForEachWidth(n, [from, to](auto d, size_t i) {
    hn::StoreU(hn::LoadU(d, from + i), d, to + i);
  });
}

// Stride 2: phase r of the padded row is x's even or odd elements, shifted.
// P[2j + r] = x[2j + r − pad_left], so with q = (r − pad_left) mod 2 and
// t = (r − pad_left − q) / 2 (never positive), phase r's element j is
// x[2(j + t) + q]: x's elements of parity q go to j = m − t. Deinterleaving
// x straight into the phase rows, instead of via a padded copy, keeps loads
// from reading what was just stored (a store-forwarding stall per vector).
void SplitRowStride2(const float* HWY_RESTRICT x, size_t width, size_t pad_left,
                     size_t lq, float* HWY_RESTRICT out) {
  float* HWY_RESTRICT to[2];
  size_t end[2];  // parity q's elements m < end[q] land inside the row
  for (size_t q = 0; q < 2; ++q) {
    const size_t r = (q + pad_left) % 2;
    const size_t shift = (pad_left + q - r) / 2;  // −t
    to[q] = out + r * lq + shift;
    const size_t count = (width + 1 - q) / 2;
    end[q] = shift < lq ? std::min(count, lq - shift) : 0;
  }
  // Pairs both parities have room for: whole vectors, then narrower ones.
  const size_t pairs = std::min({width / 2, end[0], end[1]});
  size_t m = 0;
  const auto sweep = [&](auto d) {
    for (; m + hn::Lanes(d) <= pairs; m += hn::Lanes(d)) {
      hn::Vec<decltype(d)> even, odd;
      hn::LoadInterleaved2(d, x + 2 * m, even, odd);
      hn::StoreU(even, d, to[0] + m);
      hn::StoreU(odd, d, to[1] + m);
    }
  };
  sweep(hn::ScalableTag<float>());
  sweep(hn::CappedTag<float, 8>());
  sweep(hn::CappedTag<float, 4>());
  for (size_t q = 0; q < 2; ++q) {
    for (size_t k = m; k < end[q]; ++k) to[q][k] = x[2 * k + q];
  }
}

// The buffer rows of the band of output rows [y0, y1).
void SplitBand(const DepthwiseShape& s, const float* HWY_RESTRICT plane,
               size_t y0, size_t y1, PhasedRows& p) {
  const size_t sw = s.stride_w, lq = p.lq, n = sw * lq;
  const size_t lead = std::min(s.pad_left, n);
  const size_t copied = std::min(s.width, n - lead);
  const size_t first = y0 * s.stride_h;  // padded row of buffer row 0
  const size_t rows = (y1 - y0 - 1) * s.stride_h + p.span;
  for (size_t t = 0; t < rows; ++t) {
    float* HWY_RESTRICT out = p.data.get() + t * n;
    const size_t padded_row = first + t;
    if (padded_row < s.pad_top || padded_row - s.pad_top >= s.height) {
      std::fill(out, out + n, 0.0f);
      continue;
    }
    const float* HWY_RESTRICT x = plane + (padded_row - s.pad_top) * s.width;
    if (sw == 1) {
      CopyRow(x, copied, out + lead);
    } else if (sw == 2) {
      SplitRowStride2(x, s.width, s.pad_left, lq, out);
    } else {
      float* HWY_RESTRICT padded = p.padded.get();
      CopyRow(x, copied, padded + lead);
      for (size_t r = 0; r < sw; ++r) {
        for (size_t j = 0; j < lq; ++j) out[r * lq + j] = padded[sw * j + r];
      }
    }
  }
}

// kRows output rows × kV vectors from column xo, every tap inside the
// buffer: each input row vector is loaded once and feeds every output row
// whose window covers it (with stride SH, consecutive rows share KH − SH
// input rows), so four rows of a 3x3 stride-1 stencil take 18 loads per 36
// FMAs instead of 36. Everything but the offsets is known at compile time
// and unrolls. store(v, j, k) writes row j's vector k.
template <size_t KH, size_t KW, size_t SH, size_t kRows, size_t kV, class D,
          class Store>
HWY_INLINE void RowGroup(D d, size_t row_stride, const size_t* col,
                         const float* HWY_RESTRICT w, hn::Vec<D> b,
                         const float* HWY_RESTRICT first_input_row, size_t xo,
                         const Store& store) {
  const size_t lanes = hn::Lanes(d);
  auto a00 = b, a01 = b, a02 = b, a03 = b;  // rows 0-3, vector 0
  auto a10 = b, a11 = b, a12 = b, a13 = b;  // rows 0-3, vector 1
  HWY_UNROLL(16)
  for (size_t i = 0; i < (kRows - 1) * SH + KH; ++i) {
    const float* HWY_RESTRICT r = first_input_row + i * row_stride + xo;
    HWY_UNROLL(8)
    for (size_t kx = 0; kx < KW; ++kx) {
      HWY_UNROLL(2)
      for (size_t v = 0; v < kV; ++v) {
        const auto x = hn::LoadU(d, r + col[kx] + v * lanes);
        auto& o0 = v == 0 ? a00 : a10;
        auto& o1 = v == 0 ? a01 : a11;
        auto& o2 = v == 0 ? a02 : a12;
        auto& o3 = v == 0 ? a03 : a13;
        if (i < KH) o0 = hn::MulAdd(hn::Set(d, w[i * KW + kx]), x, o0);
        if (kRows > 1 && i >= SH && i - SH < KH) {
          o1 = hn::MulAdd(hn::Set(d, w[(i - SH) * KW + kx]), x, o1);
        }
        if (kRows > 2 && i >= 2 * SH && i - 2 * SH < KH) {
          o2 = hn::MulAdd(hn::Set(d, w[(i - 2 * SH) * KW + kx]), x, o2);
        }
        if (kRows > 3 && i >= 3 * SH && i - 3 * SH < KH) {
          o3 = hn::MulAdd(hn::Set(d, w[(i - 3 * SH) * KW + kx]), x, o3);
        }
      }
    }
  }
  store(a00, 0, 0);
  if (kRows > 1) store(a01, 1, 0);
  if (kRows > 2) store(a02, 2, 0);
  if (kRows > 3) store(a03, 3, 0);
  if (kV == 2) {
    store(a10, 0, 1);
    if (kRows > 1) store(a11, 1, 1);
    if (kRows > 2) store(a12, 2, 1);
    if (kRows > 3) store(a13, 3, 1);
  }
}

// Output rows [y, y + kRows) of a plane, two vectors at a time, from the
// band starting at output row y0.
template <size_t KH, size_t KW, size_t SH, size_t kRows, class D, class Store>
HWY_INLINE void Rows(D d, const PhasedRows& p, size_t row_stride,
                     const size_t* col, const float* HWY_RESTRICT w,
                     hn::Vec<D> b, size_t y0, size_t y, size_t vecs,
                     const Store& store) {
  const size_t lanes = hn::Lanes(d);
  const float* HWY_RESTRICT in = p.data.get() + (y - y0) * SH * row_stride;
  const auto at = [&](size_t xo) {
    return [&, xo](hn::Vec<D> v, size_t j, size_t k) {
      store(v, y + j, xo + k * lanes);
    };
  };
  size_t xo = 0;
  for (; xo + 2 * lanes <= vecs * lanes; xo += 2 * lanes) {
    RowGroup<KH, KW, SH, kRows, 2>(d, row_stride, col, w, b, in, xo, at(xo));
  }
  if (xo < vecs * lanes) {
    RowGroup<KH, KW, SH, kRows, 1>(d, row_stride, col, w, b, in, xo, at(xo));
  }
}

// Output rows [y0, y1) of one plane from the band of its input plane's
// phased rows split for them. With the window and row stride known at
// compile time (KH, KW, SH; dilation 1 down the columns), four rows at a
// time through RowGroup; otherwise (SH = 0) the output vectors four at a
// time in row-major order whatever the plane's width, so each tap's weight
// still feeds four independent FMA chains.
template <size_t KH, size_t KW, size_t SH>
void StencilBand(const DepthwiseShape& s, const PhasedRows& p,
                 const float* HWY_RESTRICT w, float bias, Activation activation,
                 float* HWY_RESTRICT y, size_t y0, size_t y1) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const size_t kh = KH != 0 ? KH : s.kernel_h;
  const size_t kw = KW != 0 ? KW : s.kernel_w;
  const size_t wo = s.out_width;
  const size_t vecs = hwy::DivCeil(wo, lanes);  // per output row
  const size_t row_stride = s.stride_w * p.lq;  // between buffer rows
  // Tap kx's offset into a row's phases.
  size_t column[KW != 0 ? KW : 16];
  std::vector<size_t> wide;
  size_t* col = column;
  if (KW == 0 && kw > 16) {
    wide.resize(kw);
    col = wide.data();
  }
  for (size_t kx = 0; kx < kw; ++kx) {
    const size_t at = kx * s.dilation_w;
    col[kx] = (at % s.stride_w) * p.lq + at / s.stride_w;
  }
  const auto b = hn::Set(d, bias);
  const auto store = [&](hn::Vec<decltype(d)> v, size_t yo, size_t xo) {
    v = ActivateInStore(d, v, activation);
    if (xo + lanes <= wo) {
      hn::StoreU(v, d, y + yo * wo + xo);
    } else {
      StorePartialOutOfLine(v, wo - xo, d, y + yo * wo + xo);
    }
  };
  const bool fused = FusedInStore(activation);
  if constexpr (SH != 0) {
    size_t yo = y0;
    // Transcendental activations over each group of rows just written,
    // while it is in L1.
    for (; yo + 4 <= y1; yo += 4) {
      Rows<KH, KW, SH, 4>(d, p, row_stride, col, w, b, y0, yo, vecs, store);
      if (!fused) ActivateSpan(y + yo * wo, 4 * wo, activation);
    }
    const size_t rest = y1 - yo;
    switch (rest) {
      case 3:
        Rows<KH, KW, SH, 3>(d, p, row_stride, col, w, b, y0, yo, vecs, store);
        break;
      case 2:
        Rows<KH, KW, SH, 2>(d, p, row_stride, col, w, b, y0, yo, vecs, store);
        break;
      case 1:
        Rows<KH, KW, SH, 1>(d, p, row_stride, col, w, b, y0, yo, vecs, store);
        break;
      default:
        break;
    }
    if (!fused) ActivateSpan(y + yo * wo, rest * wo, activation);
  } else {
    const size_t count = (y1 - y0) * vecs;
    const size_t tap_row = s.dilation_h * row_stride;
    const auto input_of = [&](size_t k, size_t* yo, size_t* xo) {
      *yo = y0 + k / vecs;
      *xo = k % vecs * lanes;
      return p.data.get() + k / vecs * s.stride_h * row_stride + *xo;
    };
    size_t k = 0;
    for (; k + 4 <= count; k += 4) {
      size_t r0, r1, r2, r3, x0, x1, x2, x3;
      const float* HWY_RESTRICT q0 = input_of(k, &r0, &x0);
      const float* HWY_RESTRICT q1 = input_of(k + 1, &r1, &x1);
      const float* HWY_RESTRICT q2 = input_of(k + 2, &r2, &x2);
      const float* HWY_RESTRICT q3 = input_of(k + 3, &r3, &x3);
      auto a0 = b, a1 = b, a2 = b, a3 = b;
      for (size_t ky = 0; ky < kh; ++ky) {
        for (size_t kx = 0; kx < kw; ++kx) {
          const auto wt = hn::Set(d, w[ky * kw + kx]);
          const size_t o = ky * tap_row + col[kx];
          a0 = hn::MulAdd(wt, hn::LoadU(d, q0 + o), a0);
          a1 = hn::MulAdd(wt, hn::LoadU(d, q1 + o), a1);
          a2 = hn::MulAdd(wt, hn::LoadU(d, q2 + o), a2);
          a3 = hn::MulAdd(wt, hn::LoadU(d, q3 + o), a3);
        }
      }
      store(a0, r0, x0);
      store(a1, r1, x1);
      store(a2, r2, x2);
      store(a3, r3, x3);
    }
    for (; k < count; ++k) {
      size_t yo, xo;
      const float* HWY_RESTRICT q = input_of(k, &yo, &xo);
      auto a0 = b;
      for (size_t ky = 0; ky < kh; ++ky) {
        for (size_t kx = 0; kx < kw; ++kx) {
          a0 = hn::MulAdd(hn::Set(d, w[ky * kw + kx]),
                          hn::LoadU(d, q + ky * tap_row + col[kx]), a0);
        }
      }
      store(a0, yo, xo);
    }
    if (!fused) ActivateSpan(y + y0 * wo, (y1 - y0) * wo, activation);
  }
}

void DepthwiseNchw(const DepthwiseShape& s, const float* HWY_RESTRICT x,
                   const float* HWY_RESTRICT w, const Epilogue& epilogue,
                   float* HWY_RESTRICT y, size_t first, size_t last) {
  const hn::ScalableTag<float> d;
  PhasedRows p = MakePhasedRows(s, hn::Lanes(d));
  const size_t in_plane = s.height * s.width;
  const size_t out_plane = s.out_height * s.out_width;
  const size_t taps = s.taps();
  auto* stencil = &StencilBand<0, 0, 0>;
  const bool rows_1 = s.stride_h == 1 && s.dilation_h == 1;
  const bool rows_2 = s.stride_h == 2 && s.dilation_h == 1;
  if (s.kernel_h == 3 && s.kernel_w == 3) {
    stencil = rows_1   ? &StencilBand<3, 3, 1>
              : rows_2 ? &StencilBand<3, 3, 2>
                       : &StencilBand<3, 3, 0>;
  }
  if (s.kernel_h == 5 && s.kernel_w == 5) {
    stencil = rows_1   ? &StencilBand<5, 5, 1>
              : rows_2 ? &StencilBand<5, 5, 2>
                       : &StencilBand<5, 5, 0>;
  }
  // Input channel by input channel, band by band: each band is split once
  // for every output channel that filters its plane.
  for (size_t o = first; o < last;) {
    const size_t c = o / s.multiplier;
    const size_t end = std::min(last, (c + 1) * s.multiplier);
    for (size_t y0 = 0; y0 < s.out_height; y0 += p.band) {
      const size_t y1 = std::min(s.out_height, y0 + p.band);
      SplitBand(s, x + c * in_plane, y0, y1, p);
      for (size_t k = o; k < end; ++k) {
        const float bias = epilogue.bias != nullptr ? epilogue.bias[k] : 0.0f;
        stencil(s, p, w + k * taps, bias, epilogue.activation,
                y + k * out_plane, y0, y1);
      }
    }
    o = end;
  }
}

// ------------------------------------------------------- NCHW, direct
// DepthwiseNchw::kDirect: output columns in the lanes, every tap read
// straight from the input plane (no copy): a K×K window with stride S in
// both directions (K 3 or 5, S 1 or 2, dilation 1). Lane k of a block of
// output columns from xo needs input column S·(xo + k) − pad_left + kx for
// tap kx: with S = 1 one unaligned load per tap, with S = 2 a
// deinterleaving load per pair of taps. At the row's borders the lanes
// outside it are zeroed (what they read is the neighbouring row's). A
// plane whose loads could reach past the image's ends (the first and last)
// is read from a copy with zeros around it instead.
//
// Only the window, the stride and whether a block sits at a row's border
// are template parameters; how many of a group's 4 output rows are stored
// is checked at run time. A body instantiated for every row count and
// three border modes compiled for tens of minutes under the sanitizers.

// The lanes of a tap whose column c + S·k lies inside [0, width).
template <size_t S, class D>
HWY_INLINE hn::Mask<D> TapMask(D d, ptrdiff_t c, ptrdiff_t width) {
  const auto lanes = static_cast<ptrdiff_t>(hn::Lanes(d));
  const auto up_to = [lanes](ptrdiff_t n) {
    return static_cast<size_t>(std::clamp<ptrdiff_t>(
        (n + static_cast<ptrdiff_t>(S) - 1) / static_cast<ptrdiff_t>(S), 0,
        lanes));
  };
  // n <= 0 rounds towards zero above: clamped to 0 either way.
  return hn::AndNot(hn::FirstN(d, up_to(-c)), hn::FirstN(d, up_to(width - c)));
}

// How far a block's loads reach before column 0 or past a row's end.
template <size_t K, size_t S>
size_t DirectReach(size_t lanes) {
  return 2 * S * lanes + K;
}

// Up to 4 output rows from yo (`rows` of them stored), the block of output
// columns from xo, of one plane whose first float is `plane`: each input
// row's tap vectors are loaded once and feed every output row whose window
// covers it. Input rows outside the plane are skipped (zero).
template <size_t K, size_t S, bool kBorder, class D>
HWY_INLINE void DirectBlock(D d, const DepthwiseShape& s,
                            const float* HWY_RESTRICT plane,
                            const float* HWY_RESTRICT w, hn::Vec<D> b,
                            hn::Vec<D> floor, hn::Vec<D> ceiling, size_t yo,
                            size_t rows, size_t xo, float* HWY_RESTRICT y) {
  using V = hn::Vec<D>;
  using M = hn::Mask<D>;
  const size_t lanes = hn::Lanes(d);
  const auto height = static_cast<ptrdiff_t>(s.height);
  const auto width = static_cast<ptrdiff_t>(s.width);
  const ptrdiff_t top =
      static_cast<ptrdiff_t>(yo * S) - static_cast<ptrdiff_t>(s.pad_top);
  const ptrdiff_t c0 =
      static_cast<ptrdiff_t>(xo * S) - static_cast<ptrdiff_t>(s.pad_left);
  // Tap kx's lanes inside the row (at the borders only).
  const M all = hn::FirstN(d, lanes);
  M m0 = all, m1 = all, m2 = all, m3 = all, m4 = all;
  if (kBorder) {
    m0 = TapMask<S>(d, c0, width);
    m1 = TapMask<S>(d, c0 + 1, width);
    m2 = TapMask<S>(d, c0 + 2, width);
    if (K > 3) {
      m3 = TapMask<S>(d, c0 + 3, width);
      m4 = TapMask<S>(d, c0 + 4, width);
    }
  }
  // Two chains per output row (even and odd taps): 8 in flight, as two
  // FMA pipes of 4 cycles' latency need.
  V o0 = b, o1 = b, o2 = b, o3 = b;
  V e0 = hn::Zero(d), e1 = e0, e2 = e0, e3 = e0;
  // The input rows the 4 rows' windows cover, those inside the plane
  // read; unrolled, so which window row each is of each output row is
  // known when compiled.
  const ptrdiff_t i_begin = -top;
  const ptrdiff_t i_end = std::min<ptrdiff_t>(
      static_cast<ptrdiff_t>((rows - 1) * S + K), height - top);
  HWY_UNROLL(11)
  for (ptrdiff_t i = 0; i < static_cast<ptrdiff_t>(3 * S + K); ++i) {
    if (i < i_begin || i >= i_end) continue;
    const float* HWY_RESTRICT row = plane + (top + i) * width + c0;
    V t0, t1, t2, t3 = hn::Zero(d), t4 = hn::Zero(d);
    if constexpr (S == 2) {
      hn::LoadInterleaved2(d, row, t0, t1);
      V unused;
      if constexpr (K == 3) {
        hn::LoadInterleaved2(d, row + 2, t2, unused);
      } else {
        hn::LoadInterleaved2(d, row + 2, t2, t3);
        hn::LoadInterleaved2(d, row + 4, t4, unused);
      }
    } else {
      t0 = hn::LoadU(d, row);
      t1 = hn::LoadU(d, row + 1);
      t2 = hn::LoadU(d, row + 2);
      if constexpr (K > 3) {
        t3 = hn::LoadU(d, row + 3);
        t4 = hn::LoadU(d, row + 4);
      }
    }
    if constexpr (kBorder) {
      t0 = hn::IfThenElseZero(m0, t0);
      t1 = hn::IfThenElseZero(m1, t1);
      t2 = hn::IfThenElseZero(m2, t2);
    }
    if constexpr (kBorder && K > 3) {
      t3 = hn::IfThenElseZero(m3, t3);
      t4 = hn::IfThenElseZero(m4, t4);
    }
    // Output row r reads this input row as its window row i − r·S.
    const auto accumulate = [&](V& o, V& e, size_t r) {
      const ptrdiff_t ky = i - static_cast<ptrdiff_t>(r * S);
      if (r >= rows || ky < 0 || ky >= static_cast<ptrdiff_t>(K)) return;
      const float* HWY_RESTRICT wr = w + ky * static_cast<ptrdiff_t>(K);
      o = hn::MulAdd(hn::Set(d, wr[0]), t0, o);
      e = hn::MulAdd(hn::Set(d, wr[1]), t1, e);
      o = hn::MulAdd(hn::Set(d, wr[2]), t2, o);
      if constexpr (K > 3) {
        e = hn::MulAdd(hn::Set(d, wr[3]), t3, e);
        o = hn::MulAdd(hn::Set(d, wr[4]), t4, o);
      }
    };
    accumulate(o0, e0, 0);
    accumulate(o1, e1, 1);
    accumulate(o2, e2, 2);
    accumulate(o3, e3, 3);
  }
  const size_t wo = s.out_width;
  // A whole vector even where the row ends inside it: the lanes past its
  // end land on the next row's first columns, which are stored after this
  // (DirectPlane does a row group's last block first, rows in order). Not
  // past the plane's end: those lanes are the next plane's, perhaps another
  // thread's.
  const auto store = [&](V v, size_t r) {
    if (r >= rows) return;
    v = hn::Min(hn::Max(v, floor), ceiling);
    float* HWY_RESTRICT out = y + (yo + r) * wo + xo;
    if (xo + lanes <= wo || (yo + r) * wo + xo + lanes <= s.out_height * wo) {
      hn::StoreU(v, d, out);
    } else {
      StorePartialOutOfLine(v, wo - xo, d, out);
    }
  };
  store(hn::Add(o0, e0), 0);
  store(hn::Add(o1, e1), 1);
  store(hn::Add(o2, e2), 2);
  store(hn::Add(o3, e3), 3);
}

// One output plane from the input plane at `plane`, in groups of 4 rows.
template <size_t K, size_t S, class D>
void DirectPlane(D d, const DepthwiseShape& s, const float* HWY_RESTRICT plane,
                 const float* HWY_RESTRICT w, hn::Vec<D> b, hn::Vec<D> floor,
                 hn::Vec<D> ceiling, size_t x_lo, size_t x_hi,
                 float* HWY_RESTRICT y) {
  const size_t lanes = hn::Lanes(d);
  const size_t blocks = hwy::DivCeil(s.out_width, lanes);
  for (size_t yo = 0; yo < s.out_height; yo += 4) {
    const size_t rows = std::min<size_t>(4, s.out_height - yo);
    // The last block first (see DirectBlock's stores), then the others in
    // order.
    for (size_t k = 0; k < blocks; ++k) {
      const size_t xo = (k == 0 ? blocks - 1 : k - 1) * lanes;
      if (xo < x_lo || xo + lanes > x_hi) {
        DirectBlock<K, S, true>(d, s, plane, w, b, floor, ceiling, yo, rows, xo,
                                y);
      } else {
        DirectBlock<K, S, false>(d, s, plane, w, b, floor, ceiling, yo, rows,
                                 xo, y);
      }
    }
  }
}

template <size_t K, size_t S>
void DepthwiseDirect(const DepthwiseShape& s, const float* HWY_RESTRICT x,
                     const float* HWY_RESTRICT w, const Epilogue& epilogue,
                     float* HWY_RESTRICT y, size_t first, size_t last) {
  const hn::ScalableTag<float> d;
  const size_t in_plane = s.height * s.width;
  const size_t out_plane = s.out_height * s.out_width;
  const size_t image_size = s.channels * in_plane;
  // Blocks [x_lo, x_hi) read inside the row: lane 0's first tap at or past
  // column 0, and the last load's end (a deinterleaving load reads one
  // column past its last tap) within the row.
  const TapRange inside = interior_columns(s, S == 2 ? 1 : 0);
  const size_t reach = DirectReach<K, S>(hn::Lanes(d));
  std::vector<float> padded;  // a plane with `reach` zeros either side
  const Activation activation = epilogue.activation;
  const bool fused = FusedInStore(activation);
  const float inf = std::numeric_limits<float>::infinity();
  const auto floor = hn::Set(
      d, activation == Activation::kRelu || activation == Activation::kRelu6
             ? 0.0f
             : -inf);
  const auto ceiling =
      hn::Set(d, activation == Activation::kRelu6 ? 6.0f : inf);
  for (size_t k = first; k < last; ++k) {
    const size_t plane_at = k / s.multiplier * in_plane;
    const float* HWY_RESTRICT plane = x + plane_at;
    if (plane_at < reach || plane_at + in_plane + reach > image_size) {
      padded.assign(in_plane + 2 * reach, 0.0f);
      std::copy(plane, plane + in_plane, padded.begin() + reach);
      plane = padded.data() + reach;
    }
    const auto b =
        hn::Set(d, epilogue.bias != nullptr ? epilogue.bias[k] : 0.0f);
    float* HWY_RESTRICT yk = y + k * out_plane;
    DirectPlane<K, S>(d, s, plane, w + k * K * K, b, floor, ceiling,
                      inside.begin, inside.end, yk);
    if (!fused) ActivateSpan(yk, out_plane, activation);
  }
}

// DepthwiseDirect for the window and stride (depthwise_direct_applies).
void DepthwiseNchwDirect(const DepthwiseShape& s, const float* HWY_RESTRICT x,
                         const float* HWY_RESTRICT w, const Epilogue& epilogue,
                         float* HWY_RESTRICT y, size_t first, size_t last) {
  const size_t k = s.kernel_h, st = s.stride_h;
  if (k == 3 && st == 1)
    return DepthwiseDirect<3, 1>(s, x, w, epilogue, y, first, last);
  if (k == 3 && st == 2)
    return DepthwiseDirect<3, 2>(s, x, w, epilogue, y, first, last);
  if (k == 5 && st == 1)
    return DepthwiseDirect<5, 1>(s, x, w, epilogue, y, first, last);
  if (k == 5 && st == 2)
    return DepthwiseDirect<5, 2>(s, x, w, epilogue, y, first, last);
}

// ---------------------------------------------------------------- NHWC
// One output row's geometry: the rows of the window inside the image.
struct RowTaps {
  ptrdiff_t top;  // input row of tap 0
  size_t ky0, ky1;
};

// Output pixels [xo, xo + kPixels) of one row for channels [c, c + lanes):
// kPixels interior pixels (every tap inside the image, none checked), or
// one pixel with every tap's column checked (the border columns).
template <size_t kPixels, class D>
HWY_INLINE void PixelTile(D d, const DepthwiseShape& s,
                          const float* HWY_RESTRICT x,
                          const float* HWY_RESTRICT packed,
                          const float* HWY_RESTRICT bias, const RowTaps& row,
                          size_t xo, size_t c, Activation activation,
                          float* HWY_RESTRICT out) {
  const size_t C = s.channels, kw = s.kernel_w;
  const size_t step = s.stride_w * C;  // between adjacent outputs' inputs
  auto a0 = bias != nullptr ? hn::LoadU(d, bias + c) : hn::Zero(d);
  auto a1 = a0, a2 = a0, a3 = a0;
  const ptrdiff_t left = static_cast<ptrdiff_t>(xo * s.stride_w) -
                         static_cast<ptrdiff_t>(s.pad_left);
  for (size_t ky = row.ky0; ky < row.ky1; ++ky) {
    const auto iy = static_cast<size_t>(
        row.top + static_cast<ptrdiff_t>(ky * s.dilation_h));
    const float* HWY_RESTRICT wrow = packed + ky * kw * C + c;
    for (size_t kx = 0; kx < kw; ++kx) {
      const ptrdiff_t ix = left + static_cast<ptrdiff_t>(kx * s.dilation_w);
      if (kPixels == 1 && (ix < 0 || ix >= static_cast<ptrdiff_t>(s.width))) {
        continue;
      }
      const auto wt = hn::LoadU(d, wrow + kx * C);
      const float* HWY_RESTRICT q =
          x + (iy * s.width + static_cast<size_t>(ix)) * C + c;
      a0 = hn::MulAdd(wt, hn::LoadU(d, q), a0);
      if (kPixels == 4) {
        a1 = hn::MulAdd(wt, hn::LoadU(d, q + step), a1);
        a2 = hn::MulAdd(wt, hn::LoadU(d, q + 2 * step), a2);
        a3 = hn::MulAdd(wt, hn::LoadU(d, q + 3 * step), a3);
      }
    }
  }
  float* HWY_RESTRICT o = out + xo * C + c;
  hn::StoreU(ActivateInStore(d, a0, activation), d, o);
  if (kPixels == 4) {
    hn::StoreU(ActivateInStore(d, a1, activation), d, o + C);
    hn::StoreU(ActivateInStore(d, a2, activation), d, o + 2 * C);
    hn::StoreU(ActivateInStore(d, a3, activation), d, o + 3 * C);
  }
}

// Every channel of pixels [xo, xo + kPixels): whole vectors, then the tail
// in narrower ones (no load past the channels, which may end the buffer).
template <size_t kPixels>
void PixelChannels(const DepthwiseShape& s, const float* HWY_RESTRICT x,
                   const float* HWY_RESTRICT packed,
                   const float* HWY_RESTRICT bias, const RowTaps& row,
                   size_t xo, Activation activation, float* HWY_RESTRICT out) {
  ForEachWidth(s.channels, [&](auto d, size_t c) {
    PixelTile<kPixels>(d, s, x, packed, bias, row, xo, c, activation, out);
  });
}

// Output pixels [xo, xo + count) of one row (count <= 8) for channels
// [c, c + lanes), with the window's width KW and column stride SW known at
// compile time (dilation 1 across): each input pixel the eight windows
// cover in a row (7·SW + KW of them) is loaded once and feeds every window
// it falls in, so a 3×3 stride-1 row takes 10 input loads per 24 FMAs where
// a pixel at a time takes 2 per FMA, and the eight accumulators are
// independent chains. The row's KW weight vectors are loaded once per row
// of the window. With kClip (the tiles at the borders), input pixels outside
// the image are skipped, so they count as the zero padding.
template <size_t KW, size_t SW, bool kClip, class D>
HWY_INLINE void SlidingTile(D d, const DepthwiseShape& s,
                            const float* HWY_RESTRICT x,
                            const float* HWY_RESTRICT packed,
                            const float* HWY_RESTRICT bias, const RowTaps& row,
                            size_t xo, size_t count, size_t c,
                            Activation activation, float* HWY_RESTRICT out) {
  constexpr size_t kSpan = 7 * SW + KW;  // input pixels of eight windows
  const size_t C = s.channels;
  auto a0 = bias != nullptr ? hn::LoadU(d, bias + c) : hn::Zero(d);
  auto a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  const ptrdiff_t ix0 =
      static_cast<ptrdiff_t>(xo * SW) - static_cast<ptrdiff_t>(s.pad_left);
  const auto width = static_cast<ptrdiff_t>(s.width);
  for (size_t ky = row.ky0; ky < row.ky1; ++ky) {
    const auto iy = static_cast<ptrdiff_t>(row.top) +
                    static_cast<ptrdiff_t>(ky * s.dilation_h);
    // Pixel ix0 of the row, as an offset: may lie outside x when clipped.
    const ptrdiff_t base = (iy * width + ix0) * static_cast<ptrdiff_t>(C) +
                           static_cast<ptrdiff_t>(c);
    // The row's weights, in registers for the whole row (KW <= 5).
    const float* HWY_RESTRICT wrow = packed + ky * KW * C + c;
    const auto w0 = hn::LoadU(d, wrow);
    const auto w1 = hn::LoadU(d, wrow + (KW > 1 ? 1 : 0) * C);
    const auto w2 = hn::LoadU(d, wrow + (KW > 2 ? 2 : 0) * C);
    const auto w3 = hn::LoadU(d, wrow + (KW > 3 ? 3 : 0) * C);
    const auto w4 = hn::LoadU(d, wrow + (KW > 4 ? 4 : 0) * C);
    HWY_UNROLL(32)
    for (size_t j = 0; j < kSpan; ++j) {
      const ptrdiff_t ix = ix0 + static_cast<ptrdiff_t>(j);
      if (kClip && (ix < 0 || ix >= width)) continue;
      const auto v = hn::LoadU(d, x + base + static_cast<ptrdiff_t>(j * C));
      // Window p covers input pixels [p·SW, p·SW + KW).
      const auto tap = [&](size_t p, auto& acc) {
        if (j < p * SW || j - p * SW >= KW) return;
        const size_t kx = j - p * SW;
        const auto w = kx == 0   ? w0
                       : kx == 1 ? w1
                       : kx == 2 ? w2
                       : kx == 3 ? w3
                                 : w4;
        acc = hn::MulAdd(w, v, acc);
      };
      tap(0, a0);
      tap(1, a1);
      tap(2, a2);
      tap(3, a3);
      tap(4, a4);
      tap(5, a5);
      tap(6, a6);
      tap(7, a7);
    }
  }
  float* HWY_RESTRICT o = out + xo * C + c;
  const auto store = [&](size_t p, auto acc) {
    if (p < count)
      hn::StoreU(ActivateInStore(d, acc, activation), d, o + p * C);
  };
  store(0, a0);
  store(1, a1);
  store(2, a2);
  store(3, a3);
  store(4, a4);
  store(5, a5);
  store(6, a6);
  store(7, a7);
}

// One output row. With the window known at compile time (KW != 0), eight
// pixels at a time through SlidingTile, clipping only the tiles that reach
// a border; otherwise the border columns pixel by pixel with their taps
// checked and the interior four pixels at a time.
template <size_t KW, size_t SW>
void NhwcRow(const DepthwiseShape& s, const float* HWY_RESTRICT x,
             const float* HWY_RESTRICT packed, const float* HWY_RESTRICT bias,
             const RowTaps& row, size_t x_lo, size_t x_hi,
             Activation activation, float* HWY_RESTRICT out) {
  if constexpr (KW != 0) {
    for (size_t xo = 0; xo < s.out_width; xo += 8) {
      const size_t count = std::min<size_t>(8, s.out_width - xo);
      if (xo >= x_lo && xo + 8 <= x_hi) {
        ForEachWidth(s.channels, [&](auto d, size_t c) {
          SlidingTile<KW, SW, false>(d, s, x, packed, bias, row, xo, count, c,
                                     activation, out);
        });
      } else {
        ForEachWidth(s.channels, [&](auto d, size_t c) {
          SlidingTile<KW, SW, true>(d, s, x, packed, bias, row, xo, count, c,
                                    activation, out);
        });
      }
    }
    return;
  }
  size_t xo = 0;
  for (; xo < x_lo; ++xo) {
    PixelChannels<1>(s, x, packed, bias, row, xo, activation, out);
  }
  for (; xo + 4 <= x_hi; xo += 4) {
    PixelChannels<4>(s, x, packed, bias, row, xo, activation, out);
  }
  for (; xo < s.out_width; ++xo) {
    PixelChannels<1>(s, x, packed, bias, row, xo, activation, out);
  }
}

void DepthwiseNhwc(const DepthwiseShape& s, const float* HWY_RESTRICT x,
                   const float* HWY_RESTRICT packed, const Epilogue& epilogue,
                   float* HWY_RESTRICT y, size_t first, size_t last) {
  const size_t C = s.channels;
  const Activation activation = epilogue.activation;
  // Interior columns [x_lo, x_hi): every tap's column inside the image.
  const TapRange interior = interior_columns(s);
  const size_t x_lo = interior.begin, x_hi = interior.end;
  auto* row_of = &NhwcRow<0, 0>;
  if (s.dilation_w == 1 && s.kernel_w == 3) {
    row_of = s.stride_w == 1   ? &NhwcRow<3, 1>
             : s.stride_w == 2 ? &NhwcRow<3, 2>
                               : row_of;
  }
  if (s.dilation_w == 1 && s.kernel_w == 5) {
    row_of = s.stride_w == 1   ? &NhwcRow<5, 1>
             : s.stride_w == 2 ? &NhwcRow<5, 2>
                               : row_of;
  }
  for (size_t yo = first; yo < last; ++yo) {
    const TapRange rows = inside_rows(s, yo);
    const RowTaps row{static_cast<ptrdiff_t>(yo * s.stride_h) -
                          static_cast<ptrdiff_t>(s.pad_top),
                      rows.begin, rows.end};
    float* HWY_RESTRICT out = y + yo * s.out_width * C;
    row_of(s, x, packed, epilogue.bias, row, x_lo, x_hi, activation, out);
    if (!FusedInStore(activation)) {
      ActivateSpan(out, s.out_width * C, activation);
    }
  }
}

// NCHW through blocks of channels in the lanes (DepthwiseNchw::
// kChannelBlocks): a block of planes is transposed to [H·W][lanes],
// filtered by the NHWC kernel, and transposed back. Small planes waste most
// of each row vector when their columns are in the lanes (a 7-wide row
// fills 7 of 16) and stride 2 splits every row into phases; with channels
// in the lanes neither costs anything. Large planes go through in bands of
// output rows whose transposed input rows fit kBlockBandFloats, so the
// block stays in L2 between its transposes and the filter instead of going
// out to L3 and back (a block of 16 112×112 planes is 800 KB). Multiplier
// 1 only.
constexpr size_t kBlockBandFloats = 16384;  // 64 KB of transposed input

void DepthwiseChannelBlocks(const DepthwiseShape& s,
                            const float* HWY_RESTRICT x,
                            const float* HWY_RESTRICT w,
                            const Epilogue& epilogue, float* HWY_RESTRICT y,
                            size_t first, size_t last) {
  const size_t lanes = hn::Lanes(hn::ScalableTag<float>());
  const size_t in_plane = s.height * s.width;
  const size_t out_plane = s.out_height * s.out_width;
  const size_t taps = s.taps();
  const size_t span = (s.kernel_h - 1) * s.dilation_h + 1;
  // Output rows per band: their input rows, (band − 1)·stride + span of
  // them, fit the budget; at least one.
  const size_t row_floats = s.width * lanes;
  const size_t fit = std::max<size_t>(kBlockBandFloats / row_floats, span);
  const size_t band = std::min(s.out_height, (fit - span) / s.stride_h + 1);
  const size_t band_rows = std::min(s.height, (band - 1) * s.stride_h + span);
  auto xt = hwy::AllocateAligned<float>(band_rows * row_floats);
  auto yt = hwy::AllocateAligned<float>(band * s.out_width * lanes);
  auto packed = hwy::AllocateAligned<float>(taps * lanes);
  for (size_t c0 = first; c0 < last; c0 += lanes) {
    const size_t nc = std::min(lanes, last - c0);
    for (size_t t = 0; t < taps; ++t) {
      for (size_t k = 0; k < nc; ++k) {
        packed[t * nc + k] = w[(c0 + k) * taps + t];
      }
    }
    Epilogue e = epilogue;
    if (e.bias != nullptr) e.bias += c0;
    for (size_t y0 = 0; y0 < s.out_height; y0 += band) {
      const size_t y1 = std::min(s.out_height, y0 + band);
      // The band's input rows [lo, hi) as an image of their own: its top
      // padding is what of the first window lies above row lo.
      const ptrdiff_t top = static_cast<ptrdiff_t>(y0 * s.stride_h) -
                            static_cast<ptrdiff_t>(s.pad_top);
      const size_t lo = static_cast<size_t>(std::max<ptrdiff_t>(top, 0));
      const size_t hi = std::min(
          s.height,
          static_cast<size_t>(std::max<ptrdiff_t>(
              top + static_cast<ptrdiff_t>((y1 - y0 - 1) * s.stride_h + span),
              0)));
      DepthwiseShape part = s;
      part.channels = nc;
      part.height = hi > lo ? hi - lo : 0;
      part.out_height = y1 - y0;
      part.pad_top = static_cast<size_t>(static_cast<ptrdiff_t>(lo) - top);
      if (part.height > 0) {
        transpose(x + c0 * in_plane + lo * s.width, nc, part.height * s.width,
                  in_plane, xt.get(), nc);
      }
      DepthwiseNhwc(part, xt.get(), packed.get(), e, yt.get(), 0,
                    part.out_height);
      transpose(yt.get(), part.out_height * s.out_width, nc, nc,
                y + c0 * out_plane + y0 * s.out_width, out_plane);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace spruce::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace spruce::kernels {

HWY_EXPORT(DepthwiseNchw);
HWY_EXPORT(DepthwiseNhwc);
HWY_EXPORT(DepthwiseChannelBlocks);
HWY_EXPORT(DepthwiseNchwDirect);

bool depthwise_direct_applies(const DepthwiseShape& s) {
  return s.kernel_h == s.kernel_w && (s.kernel_h == 3 || s.kernel_h == 5) &&
         s.stride_h == s.stride_w && (s.stride_h == 1 || s.stride_h == 2) &&
         s.dilation_h == 1 && s.dilation_w == 1;
}

void depthwise_conv_nchw(const DepthwiseShape& s, const float* x,
                         const float* w, const Epilogue& epilogue, float* y,
                         size_t first, size_t last, DepthwiseNchw method) {
  if (first >= last || s.out_height == 0 || s.out_width == 0) return;
  if (method == DepthwiseNchw::kDirect && depthwise_direct_applies(s)) {
    HWY_DYNAMIC_DISPATCH(DepthwiseNchwDirect)
    (s, x, w, epilogue, y, first, last);
    return;
  }
  if (method == DepthwiseNchw::kChannelBlocks && s.multiplier == 1) {
    HWY_DYNAMIC_DISPATCH(DepthwiseChannelBlocks)
    (s, x, w, epilogue, y, first, last);
    return;
  }
  HWY_DYNAMIC_DISPATCH(DepthwiseNchw)(s, x, w, epilogue, y, first, last);
}

void depthwise_conv_nhwc(const DepthwiseShape& s, const float* x,
                         const float* packed, const Epilogue& epilogue,
                         float* y, size_t first, size_t last) {
  if (first >= last || s.out_height == 0 || s.out_width == 0) return;
  HWY_DYNAMIC_DISPATCH(DepthwiseNhwc)(s, x, packed, epilogue, y, first, last);
}

std::vector<float> pack_depthwise_nhwc(const DepthwiseShape& s,
                                       const float* w) {
  const size_t taps = s.taps(), out = s.out_channels();
  std::vector<float> packed(taps * out);
  for (size_t o = 0; o < out; ++o) {
    for (size_t t = 0; t < taps; ++t) packed[t * out + o] = w[o * taps + t];
  }
  return packed;
}

void depthwise_conv_reference(const DepthwiseShape& s, const float* x,
                              const float* w, const Epilogue& epilogue,
                              float* y) {
  for (size_t o = 0; o < s.out_channels(); ++o) {
    const float* plane = x + o / s.multiplier * s.height * s.width;
    for (size_t yo = 0; yo < s.out_height; ++yo) {
      for (size_t xo = 0; xo < s.out_width; ++xo) {
        double acc = epilogue.bias != nullptr ? epilogue.bias[o] : 0.0;
        for (size_t i = 0; i < s.kernel_h; ++i) {
          const auto iy =
              static_cast<ptrdiff_t>(yo * s.stride_h + i * s.dilation_h) -
              static_cast<ptrdiff_t>(s.pad_top);
          if (iy < 0 || iy >= static_cast<ptrdiff_t>(s.height)) continue;
          for (size_t j = 0; j < s.kernel_w; ++j) {
            const auto ix =
                static_cast<ptrdiff_t>(xo * s.stride_w + j * s.dilation_w) -
                static_cast<ptrdiff_t>(s.pad_left);
            if (ix < 0 || ix >= static_cast<ptrdiff_t>(s.width)) continue;
            acc += double{w[o * s.taps() + i * s.kernel_w + j]} *
                   plane[static_cast<size_t>(iy) * s.width +
                         static_cast<size_t>(ix)];
          }
        }
        y[(o * s.out_height + yo) * s.out_width + xo] =
            static_cast<float>(activate_reference(acc, epilogue.activation));
      }
    }
  }
}

}  // namespace spruce::kernels
#endif  // HWY_ONCE
