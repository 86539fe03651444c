// Dense × few rows on panels of packed W (kernels/dense_packed.h), written
// once with Highway for every SIMD target.
//
// A panel is four vectors wide. For each row k of the panel (one input
// feature), its four weight vectors are loaded once and multiplied with the
// broadcast X[j, k] of up to four rows j at a time (two on targets with 16
// vector registers), into four accumulators per row: at one row, a stream
// of W with one FMA per weight vector and four FMA chains in flight.
// Bias and activation are applied as the accumulators are stored.
#include <algorithm>
#include <cstddef>
#include <cstring>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/src/dense_packed.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/src/activation-inl.h"
#include "spruce/kernels/dense_packed.h"

HWY_BEFORE_NAMESPACE();
namespace spruce::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// A panel is four vectors of the target wide.
constexpr size_t kPanelVectors = 4;

size_t PanelWidth() {
  return kPanelVectors * hn::Lanes(hn::ScalableTag<float>());
}

// The rows of X one pass over a panel computes: four where there are 32
// vector registers (16 accumulators), two where there are 16.
#if HWY_TARGET <= HWY_AVX3
constexpr size_t kMaxRows = 4;
#else
constexpr size_t kMaxRows = 2;
#endif

// a_v += w_v · x for the four vectors of a panel row.
template <class V>
HWY_INLINE void MulAdd4(V w0, V w1, V w2, V w3, V x, V& a0, V& a1, V& a2,
                        V& a3) {
  a0 = hn::MulAdd(w0, x, a0);
  a1 = hn::MulAdd(w1, x, a1);
  a2 = hn::MulAdd(w2, x, a2);
  a3 = hn::MulAdd(w3, x, a3);
}

template <class D, class V>
HWY_INLINE void Store4(D d, V a0, V a1, V a2, V a3, float* HWY_RESTRICT out) {
  const size_t lanes = hn::Lanes(d);
  hn::StoreU(a0, d, out);
  hn::StoreU(a1, d, out + lanes);
  hn::StoreU(a2, d, out + 2 * lanes);
  hn::StoreU(a3, d, out + 3 * lanes);
}

// One panel's sums for rows 0..R-1 of x (R <= kMaxRows) into `out` (R rows
// of one panel width, contiguous), before the epilogue. Each broadcast of
// an activation feeds four FMAs, and each panel row's four weight vectors
// feed R rows: on CPUs where broadcasts and loads cost about as much as an
// FMA, that keeps the FMAs the bound.
template <size_t R, class D>
HWY_INLINE void PanelRows(D d, const float* HWY_RESTRICT panel, size_t in,
                          const float* HWY_RESTRICT x, size_t xr, size_t xc,
                          float* HWY_RESTRICT out) {
  const size_t lanes = hn::Lanes(d);
  const size_t width = kPanelVectors * lanes;
  using V = hn::Vec<D>;
  V a00 = hn::Zero(d), a01 = a00, a02 = a00, a03 = a00;
  V a10 = a00, a11 = a00, a12 = a00, a13 = a00;
  V a20 = a00, a21 = a00, a22 = a00, a23 = a00;
  V a30 = a00, a31 = a00, a32 = a00, a33 = a00;
  for (size_t k = 0; k < in; ++k) {
    const float* HWY_RESTRICT w = panel + k * width;
    const V w0 = hn::LoadU(d, w);
    const V w1 = hn::LoadU(d, w + lanes);
    const V w2 = hn::LoadU(d, w + 2 * lanes);
    const V w3 = hn::LoadU(d, w + 3 * lanes);
    const float* HWY_RESTRICT xk = x + k * xc;
    MulAdd4(w0, w1, w2, w3, hn::Set(d, xk[0]), a00, a01, a02, a03);
    if (R >= 2) MulAdd4(w0, w1, w2, w3, hn::Set(d, xk[xr]), a10, a11, a12, a13);
    if (R >= 3) {
      MulAdd4(w0, w1, w2, w3, hn::Set(d, xk[2 * xr]), a20, a21, a22, a23);
    }
    if (R >= 4) {
      MulAdd4(w0, w1, w2, w3, hn::Set(d, xk[3 * xr]), a30, a31, a32, a33);
    }
  }
  Store4(d, a00, a01, a02, a03, out);
  if (R >= 2) Store4(d, a10, a11, a12, a13, out + width);
  if (R >= 3) Store4(d, a20, a21, a22, a23, out + 2 * width);
  if (R >= 4) Store4(d, a30, a31, a32, a33, out + 3 * width);
}

// y[0:count] = act(sum[0:count] + bias[0:count] (+ y)), count <= one panel.
template <class D>
HWY_INLINE void StoreOutputs(D d, const float* HWY_RESTRICT sum,
                             const float* HWY_RESTRICT bias, size_t count,
                             const Epilogue& epilogue, float* HWY_RESTRICT y) {
  const size_t lanes = hn::Lanes(d);
  const size_t width = kPanelVectors * lanes;
  HWY_ALIGN float tile[kPanelVectors * HWY_MAX_BYTES / sizeof(float)];
  float* HWY_RESTRICT dst = count == width ? y : tile;
  if (count < width) {
    // A partial panel: only `count` outputs exist in y and bias.
    std::fill(tile, tile + width, 0.0f);
    if (epilogue.accumulate) std::copy(y, y + count, tile);
  }
  HWY_ALIGN float bias_tile[kPanelVectors * HWY_MAX_BYTES / sizeof(float)];
  const float* HWY_RESTRICT b = bias;
  if (bias != nullptr && count < width) {
    std::fill(bias_tile, bias_tile + width, 0.0f);
    std::copy(bias, bias + count, bias_tile);
    b = bias_tile;
  }
  for (size_t v = 0; v < width; v += lanes) {
    auto s = hn::LoadU(d, sum + v);
    if (b != nullptr) s = hn::Add(s, hn::LoadU(d, b + v));
    if (epilogue.accumulate) s = hn::Add(s, hn::LoadU(d, dst + v));
    hn::StoreU(ActivateInStore(d, s, epilogue.activation), d, dst + v);
  }
  if (!FusedInStore(epilogue.activation)) {
    ActivateSpan(dst, width, epilogue.activation);
  }
  if (count < width) std::copy(tile, tile + count, y);
}

void GemmPacked(const PackedDenseView& w, const float* x, size_t xr,
                size_t xc, size_t n, float* y, size_t ldy,
                const Epilogue& epilogue, size_t panel_begin,
                size_t panel_end) {
  const hn::ScalableTag<float> d;
  const size_t width = kPanelVectors * hn::Lanes(d);
  HWY_ALIGN float sums[kMaxRows * kPanelVectors * HWY_MAX_BYTES /
                       sizeof(float)];
  for (size_t p = panel_begin; p < panel_end; ++p) {
    const float* HWY_RESTRICT panel = w.panels + p * w.in * width;
    const size_t o0 = p * width;
    const size_t count = std::min(width, w.out - o0);
    const float* bias = epilogue.bias != nullptr ? epilogue.bias + o0 : nullptr;
    for (size_t j0 = 0; j0 < n; j0 += kMaxRows) {
      const size_t rows = std::min(kMaxRows, n - j0);
      const float* xj = x + j0 * xr;
      if (rows == 1) {
        PanelRows<1>(d, panel, w.in, xj, xr, xc, sums);
      } else if (rows == 2 || kMaxRows == 2) {
        PanelRows<2>(d, panel, w.in, xj, xr, xc, sums);
      } else if (rows == 3) {
        PanelRows<3>(d, panel, w.in, xj, xr, xc, sums);
      } else {
        PanelRows<4>(d, panel, w.in, xj, xr, xc, sums);
      }
      for (size_t r = 0; r < rows; ++r) {
        StoreOutputs(d, sums + r * width, bias, count, epilogue,
                     y + (j0 + r) * ldy + o0);
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace spruce::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace spruce::kernels {

HWY_EXPORT(PanelWidth);
HWY_EXPORT(GemmPacked);

size_t dense_panel_width() { return HWY_DYNAMIC_DISPATCH(PanelWidth)(); }

size_t packed_dense_floats(size_t out, size_t in, size_t panel_width) {
  const size_t panels = (out + panel_width - 1) / panel_width;
  return panels * panel_width * in;
}

void pack_dense(const float* w, size_t out, size_t in, size_t ldw,
                size_t panel_width, float* packed) {
  const size_t panels = (out + panel_width - 1) / panel_width;
  for (size_t p = 0; p < panels; ++p) {
    float* panel = packed + p * in * panel_width;
    for (size_t k = 0; k < in; ++k) {
      for (size_t c = 0; c < panel_width; ++c) {
        const size_t o = p * panel_width + c;
        panel[k * panel_width + c] = o < out ? w[o * ldw + k] : 0.0f;
      }
    }
  }
}

void gemm_packed(const PackedDenseView& w, const float* x, size_t x_row_stride,
                 size_t x_col_stride, size_t n, float* y, size_t ldy,
                 const Epilogue& epilogue, size_t panel_begin,
                 size_t panel_end) {
  HWY_DYNAMIC_DISPATCH(GemmPacked)
  (w, x, x_row_stride, x_col_stride, n, y, ldy, epilogue, panel_begin,
   panel_end);
}

void dense_gemm_reference(const float* w, size_t in, const float* x,
                          size_t x_row_stride, size_t x_col_stride, size_t n,
                          float* y, size_t ldy, const Epilogue& epilogue,
                          size_t out_begin, size_t out_end) {
  for (size_t o = out_begin; o < out_end; ++o) {
    for (size_t j = 0; j < n; ++j) {
      double sum = epilogue.bias != nullptr ? epilogue.bias[o] : 0.0;
      if (epilogue.accumulate) sum += y[j * ldy + o];
      for (size_t k = 0; k < in; ++k) {
        sum += static_cast<double>(w[o * in + k]) *
               x[j * x_row_stride + k * x_col_stride];
      }
      y[j * ldy + o] =
          static_cast<float>(activate_reference(sum, epilogue.activation));
    }
  }
}

}  // namespace spruce::kernels
#endif  // HWY_ONCE
