// Which taps of a sliding window (window.h) land inside the image, shared by
// the depthwise convolution and the pools: a window row's taps inside the
// input along one axis, and the output columns whose every tap is inside
// the row (the interior, where no tap needs checking).
#ifndef SPRUCE_KERNELS_SRC_WINDOW_TAPS_H_
#define SPRUCE_KERNELS_SRC_WINDOW_TAPS_H_

#include <algorithm>
#include <cstddef>

#include "spruce/kernels/window.h"

namespace spruce::kernels {

// A half-open range [begin, end) of taps or of outputs.
struct TapRange {
  size_t begin = 0, end = 0;
  size_t size() const { return end - begin; }
};

// The taps i < k of output o whose input index o·stride + i·dilation − pad
// lies in [0, n); empty (begin == end) when none does.
inline TapRange inside_taps(size_t o, size_t stride, size_t dilation,
                            size_t pad, size_t k, size_t n) {
  const auto start =
      static_cast<ptrdiff_t>(o * stride) - static_cast<ptrdiff_t>(pad);
  const auto d = static_cast<ptrdiff_t>(dilation);
  TapRange t;
  const ptrdiff_t last = static_cast<ptrdiff_t>(n) - 1 - start;  // max i·d
  if (last < 0) return t;
  t.begin = start < 0 ? static_cast<size_t>((-start + d - 1) / d) : 0;
  t.end = std::min(k, static_cast<size_t>(last / d) + 1);
  t.begin = std::min(t.begin, t.end);
  return t;
}

// The input rows output row oy's window reads.
inline TapRange inside_rows(const WindowShape& s, size_t oy) {
  return inside_taps(oy, s.stride_h, s.dilation_h, s.pad_top, s.kernel_h,
                     s.height);
}

// The output columns every tap of whose window lies inside the input row,
// with `slack` more columns readable past the last tap (a deinterleaving
// load's odd half).
inline TapRange interior_columns(const WindowShape& s, size_t slack = 0) {
  const size_t sw = s.stride_w;
  const size_t reach = (s.kernel_w - 1) * s.dilation_w + slack;
  TapRange r;
  r.begin = std::min(s.out_width, (s.pad_left + sw - 1) / sw);
  r.end = r.begin;
  if (s.width + s.pad_left > reach) {
    r.end = std::clamp((s.width - 1 + s.pad_left - reach) / sw + 1, r.begin,
                       s.out_width);
  }
  return r;
}

}  // namespace spruce::kernels

#endif  // SPRUCE_KERNELS_SRC_WINDOW_TAPS_H_
