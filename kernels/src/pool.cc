// Max and average pooling (pool.h), written once with Highway and compiled
// for every SIMD target; the best one for the running CPU is chosen per
// call. oneDNN 2.6 has no JIT pooling for NCHW on AVX2: its reference loop
// took 17 ms for ResNet's 3×3 stride-2 max pool (64×112×112), half of a
// pruned resnet18's run.
#include <algorithm>
#include <cstddef>
#include <limits>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/src/pool.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/src/sweep-inl.h"
#include "kernels/src/window_taps.h"
#include "spruce/kernels/pool.h"

HWY_BEFORE_NAMESPACE();
namespace spruce::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The reduction: max, or a sum scaled by 1 / count at the end.
template <bool kMax>
struct Reduce {
  static constexpr float kStart =
      kMax ? std::numeric_limits<float>::lowest() : 0.0f;
  template <class V>
  static HWY_INLINE V Apply(V a, V b) {
    return kMax ? hn::Max(a, b) : hn::Add(a, b);
  }
  static HWY_INLINE float Apply(float a, float b) {
    return kMax ? (b > a ? b : a) : a + b;
  }
};

// 1 / the divisor of an average over `inside` cells, or 1 for max; 0 for
// an empty average (its sum is 0).
HWY_INLINE float Scale(PoolKind kind, size_t inside, size_t window) {
  if (kind == PoolKind::kMax) return 1.0f;
  const size_t count = kind == PoolKind::kAverage ? inside : window;
  return count == 0 ? 0.0f : 1.0f / static_cast<float>(count);
}

// The plane's rows a window row reads: output row oy's tap i reads input
// row y0 + i·dh, with y0 = oy·sh − pad_top (wrapping below zero; only the
// inside taps' rows are formed).
struct RowWindow {
  TapRange taps;
  size_t y0 = 0;
};
HWY_INLINE RowWindow RowsOf(const WindowShape& s, size_t oy) {
  return {inside_rows(s, oy), oy * s.stride_h - s.pad_top};
}

// One output of a window-reduced row (see PoolRowNchw), scalar: the border
// columns. `inside_rows`: the window rows the row holds, for the average.
template <bool kMax>
HWY_INLINE float PoolScalar(const WindowShape& s, PoolKind kind,
                            const float* HWY_RESTRICT row, size_t inside_rows,
                            size_t ox) {
  const TapRange rx = inside_taps(ox, s.stride_w, s.dilation_w, s.pad_left,
                                  s.kernel_w, s.width);
  const size_t x0 = ox * s.stride_w - s.pad_left;  // wraps like y0
  float acc = Reduce<kMax>::kStart;
  for (size_t j = rx.begin; j < rx.end; ++j) {
    acc = Reduce<kMax>::Apply(acc, row[x0 + j * s.dilation_w]);
  }
  return acc * Scale(kind, inside_rows * rx.size(), s.taps());
}

// One window row of lanes-many adjacent outputs whose taps are all inside
// the row, starting at `from` (the input column of tap 0 of the first).
// Stride 1: one load per tap. Stride 2: a deinterleaving load at tap j's
// column gives tap j in its even half and, with dilation 1, tap j + 1 in
// its odd half. The last tap's odd half reads one column past it.
template <bool kMax, size_t kStride, class D>
HWY_INLINE hn::Vec<D> WindowRow(D d, const float* HWY_RESTRICT from,
                                size_t kernel_w, size_t dilation,
                                hn::Vec<D> acc) {
  using R = Reduce<kMax>;
  size_t j = 0;
  if constexpr (kStride == 1) {
    for (; j < kernel_w; ++j)
      acc = R::Apply(acc, hn::LoadU(d, from + j * dilation));
  } else {
    hn::Vec<D> even, odd;
    for (; j < kernel_w; ++j) {
      hn::LoadInterleaved2(d, from + j * dilation, even, odd);
      acc = R::Apply(acc, even);
      if (dilation == 1 && j + 1 < kernel_w) {
        acc = R::Apply(acc, odd);
        ++j;
      }
    }
  }
  return acc;
}

// Output row oy of one plane, separably: the window's inside rows reduced
// into `row` (the input's width) with whole-vector loads, then each
// output's taps along that one row. A 3×3 stride-2 window then costs 3
// row loads and 2 deinterleaving loads per output vector, not 6 of them
// (ResNet's max pool: 178 us on 64×112×112 read window row by window row).
template <bool kMax, size_t kStride>
void PoolRowNchw(const WindowShape& s, PoolKind kind,
                 const float* HWY_RESTRICT plane, size_t oy,
                 float* HWY_RESTRICT row, float* HWY_RESTRICT yr) {
  using R = Reduce<kMax>;
  const TapRange taps = inside_rows(s, oy);
  if (taps.size() == 0) {
    std::fill(yr, yr + s.out_width, R::kStart);
    return;
  }
  const size_t y0 = oy * s.stride_h - s.pad_top;  // wraps below zero
  auto input_row = [&](size_t t) {
    return plane + (y0 + t * s.dilation_h) * s.width;
  };
  const float* HWY_RESTRICT first = input_row(taps.begin);
  ForEachWidth(s.width, [&](auto d, size_t x) {
    auto acc = hn::LoadU(d, first + x);
    for (size_t t = taps.begin + 1; t < taps.end; ++t) {
      acc = R::Apply(acc, hn::LoadU(d, input_row(t) + x));
    }
    hn::StoreU(acc, d, row + x);
  });
  // Columns [ox0, ox1) have every tap inside the row, and the stride-2
  // loads' last odd half too; stride 3 and up run scalar.
  const size_t sw = s.stride_w;
  const TapRange interior = interior_columns(s, kStride - 1);
  const size_t ox0 = interior.begin;
  const size_t ox1 = kStride == sw ? interior.end : ox0;
  for (size_t ox = 0; ox < ox0; ++ox) {
    yr[ox] = PoolScalar<kMax>(s, kind, row, taps.size(), ox);
  }
  const float scale = Scale(kind, taps.size() * s.kernel_w, s.taps());
  ForEachWidth(ox1 - ox0, [&](auto d, size_t i) {
    const size_t ox = ox0 + i;
    auto acc =
        WindowRow<kMax, kStride>(d, row + ox * sw - s.pad_left, s.kernel_w,
                                 s.dilation_w, hn::Set(d, R::kStart));
    if (!kMax) acc = hn::Mul(acc, hn::Set(d, scale));
    hn::StoreU(acc, d, yr + ox);
  });
  for (size_t ox = ox1; ox < s.out_width; ++ox) {
    yr[ox] = PoolScalar<kMax>(s, kind, row, taps.size(), ox);
  }
}

template <bool kMax>
void PoolNchwTyped(const WindowShape& s, PoolKind kind,
                   const float* HWY_RESTRICT x, float* HWY_RESTRICT y,
                   size_t first, size_t last) {
  const size_t in_plane = s.height * s.width;
  const size_t out_plane = s.out_height * s.out_width;
  // The reduced row, kept per thread: runs do not allocate.
  thread_local std::vector<float> row;
  row.resize(s.width);
  for (size_t c = first; c < last; ++c) {
    const float* plane = x + c * in_plane;
    for (size_t oy = 0; oy < s.out_height; ++oy) {
      float* yr = y + c * out_plane + oy * s.out_width;
      if (s.stride_w == 2) {
        PoolRowNchw<kMax, 2>(s, kind, plane, oy, row.data(), yr);
      } else {
        // Stride 1 vectorized; other strides take the scalar path.
        PoolRowNchw<kMax, 1>(s, kind, plane, oy, row.data(), yr);
      }
    }
  }
}

void PoolNchw(const WindowShape& s, PoolKind kind, const float* x, float* y,
              size_t first, size_t last) {
  if (kind == PoolKind::kMax) {
    PoolNchwTyped<true>(s, kind, x, y, first, last);
  } else {
    PoolNchwTyped<false>(s, kind, x, y, first, last);
  }
}

// Output rows [first, last) of one NHWC image: per output pixel, its
// window's inside pixels reduced a channel vector at a time.
template <bool kMax>
void PoolNhwcTyped(const WindowShape& s, PoolKind kind,
                   const float* HWY_RESTRICT x, float* HWY_RESTRICT y,
                   size_t first, size_t last) {
  const size_t c = s.channels;
  for (size_t oy = first; oy < last; ++oy) {
    const RowWindow rows = RowsOf(s, oy);
    for (size_t ox = 0; ox < s.out_width; ++ox) {
      const TapRange rx = inside_taps(ox, s.stride_w, s.dilation_w, s.pad_left,
                                      s.kernel_w, s.width);
      const size_t x0 = ox * s.stride_w - s.pad_left;
      const float scale = Scale(kind, rows.taps.size() * rx.size(), s.taps());
      float* HWY_RESTRICT yp = y + (oy * s.out_width + ox) * c;
      ForEachWidth(c, [&](auto d, size_t k) {
        auto acc = hn::Set(d, Reduce<kMax>::kStart);
        for (size_t i = rows.taps.begin; i < rows.taps.end; ++i) {
          const float* HWY_RESTRICT row =
              x + (rows.y0 + i * s.dilation_h) * s.width * c + k;
          for (size_t j = rx.begin; j < rx.end; ++j) {
            acc = Reduce<kMax>::Apply(
                acc, hn::LoadU(d, row + (x0 + j * s.dilation_w) * c));
          }
        }
        if (!kMax) acc = hn::Mul(acc, hn::Set(d, scale));
        hn::StoreU(acc, d, yp + k);
      });
    }
  }
}

void PoolNhwc(const WindowShape& s, PoolKind kind, const float* x, float* y,
              size_t first, size_t last) {
  if (kind == PoolKind::kMax) {
    PoolNhwcTyped<true>(s, kind, x, y, first, last);
  } else {
    PoolNhwcTyped<false>(s, kind, x, y, first, last);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace spruce::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace spruce::kernels {

HWY_EXPORT(PoolNchw);
HWY_EXPORT(PoolNhwc);

void pool_nchw(const WindowShape& s, PoolKind kind, const float* x, float* y,
               size_t first, size_t last) {
  HWY_DYNAMIC_DISPATCH(PoolNchw)(s, kind, x, y, first, last);
}

void pool_nhwc(const WindowShape& s, PoolKind kind, const float* x, float* y,
               size_t first, size_t last) {
  HWY_DYNAMIC_DISPATCH(PoolNhwc)(s, kind, x, y, first, last);
}

void pool_reference(const WindowShape& s, PoolKind kind, const float* x,
                    float* y) {
  for (size_t c = 0; c < s.channels; ++c) {
    for (size_t oy = 0; oy < s.out_height; ++oy) {
      for (size_t ox = 0; ox < s.out_width; ++ox) {
        double acc =
            kind == PoolKind::kMax
                ? static_cast<double>(std::numeric_limits<float>::lowest())
                : 0.0;
        size_t inside = 0;
        for (size_t i = 0; i < s.kernel_h; ++i) {
          const auto iy =
              static_cast<ptrdiff_t>(oy * s.stride_h + i * s.dilation_h) -
              static_cast<ptrdiff_t>(s.pad_top);
          if (iy < 0 || iy >= static_cast<ptrdiff_t>(s.height)) continue;
          for (size_t j = 0; j < s.kernel_w; ++j) {
            const auto ix =
                static_cast<ptrdiff_t>(ox * s.stride_w + j * s.dilation_w) -
                static_cast<ptrdiff_t>(s.pad_left);
            if (ix < 0 || ix >= static_cast<ptrdiff_t>(s.width)) continue;
            const double v =
                x[(c * s.height + static_cast<size_t>(iy)) * s.width +
                  static_cast<size_t>(ix)];
            acc = kind == PoolKind::kMax ? std::max(acc, v) : acc + v;
            ++inside;
          }
        }
        const size_t count =
            kind == PoolKind::kAverageIncludePad ? s.taps() : inside;
        if (kind != PoolKind::kMax) acc = count == 0 ? 0.0 : acc / count;
        y[(c * s.out_height + oy) * s.out_width + ox] = static_cast<float>(acc);
      }
    }
  }
}

}  // namespace spruce::kernels
#endif  // HWY_ONCE
