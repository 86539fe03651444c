// Rows-as-lanes sparse product for a few rows of activations
// (kernels/spmm_lookup.h), and its packing, written once with Highway.
//
// Per group of 16 rows, per column block of up to four rows of X: for each
// panel with slots, X's 32 activations of each of those rows are loaded into
// two vectors (the table), then every slot is one index load, one value load
// and per row of X one table lookup and one FMA. With one row of X two
// accumulators alternate so that the FMA latency does not bound the loop.
// Targets without 16-float vectors compute each group in several vectors
// and fetch each lane's activation with a gather from the panel.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/src/spmm_lookup.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/src/activation-inl.h"
#include "kernels/src/table_lookup-inl.h"
#include "spruce/kernels/spmm_lookup.h"

HWY_BEFORE_NAMESPACE();
namespace spruce::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr size_t kGroup = kLookupGroupRows;
constexpr size_t kPanel = kLookupPanelCols;
constexpr size_t kMaxBlock = 4;  // rows of X per pass over W

// The activations of panel p of X's row `xj`: in place, or copied with zeros
// past the last column into `pad` for the last, partial panel.
HWY_INLINE const float* PanelOf(const float* HWY_RESTRICT xj, size_t p,
                                size_t cols, float* HWY_RESTRICT pad) {
  const size_t c0 = p * kPanel;
  if (c0 + kPanel <= cols) return xj + c0;
  std::fill(pad, pad + kPanel, 0.0f);
  std::copy(xj + c0, xj + cols, pad);
  return pad;
}

// Stores one vector of a group's outputs for X's row j: lanes [lane0,
// lane0 + Lanes) of the group's rows r0.. (bias, accumulate, activation).
// Transcendental activations run over the stored span (ActivateSpan), not
// inlined here: inlined into every instantiation they made clang with
// UndefinedBehaviorSanitizer take minutes and gigabytes on this file.
template <class D>
HWY_INLINE void StoreLanes(D d, hn::Vec<D> sum, size_t r0, size_t rows,
                           const Epilogue& epilogue, float* HWY_RESTRICT yj) {
  const size_t lanes = hn::Lanes(d);
  const size_t count = std::min(lanes, rows - r0);
  const Activation act = epilogue.activation;
  if (count == lanes) {
    if (epilogue.bias != nullptr)
      sum = hn::Add(sum, hn::LoadU(d, epilogue.bias + r0));
    if (epilogue.accumulate) sum = hn::Add(sum, hn::LoadU(d, yj + r0));
    hn::StoreU(ActivateInStore(d, sum, act), d, yj + r0);
    if (!FusedInStore(act)) ActivateSpan(yj + r0, lanes, act);
    return;
  }
  HWY_ALIGN float tile[HWY_MAX_BYTES / sizeof(float)] = {};
  hn::Store(sum, d, tile);
  for (size_t i = 0; i < count; ++i) {
    float v = tile[i];
    if (epilogue.bias != nullptr) v += epilogue.bias[r0 + i];
    if (epilogue.accumulate) v += yj[r0 + i];
    tile[i] = v;
  }
  hn::Store(ActivateInStore(d, hn::Load(d, tile), act), d, tile);
  if (!FusedInStore(act)) ActivateSpan(tile, count, act);
  std::copy(tile, tile + count, yj + r0);
}

#if SPRUCE_HAVE_LOOKUP32

// Rows j0..j0+B-1 of X against group g: 16 lanes, table lookups.
template <size_t B>
HWY_INLINE void GroupBlock(const LookupView& w, size_t g, const float* x,
                           size_t ldx, float* y, size_t ldy,
                           const Epilogue& epilogue) {
  const hn::Full512<float> d;
  const hn::Full512<int32_t> di;
  const hn::Full128<uint8_t> du8;
  using V = hn::Vec<decltype(d)>;
  HWY_ALIGN float pad[kMaxBlock][kPanel];
  V a0 = hn::Zero(d), a1 = a0, a2 = a0, a3 = a0, b0 = a0;
  const size_t panels = w.panels();
  const uint32_t* HWY_RESTRICT sp = w.slot_ptr + g * panels;
  for (size_t p = 0; p < panels; ++p) {
    uint32_t s = sp[p];
    const uint32_t e = sp[p + 1];
    if (s == e) continue;
    V t1l = a0, t1h = a0, t2l = a0, t2h = a0, t3l = a0, t3h = a0;
    const float* p0 = PanelOf(x, p, w.cols, pad[0]);
    const V t0l = hn::LoadU(d, p0);
    const V t0h = hn::LoadU(d, p0 + 16);
    if (B >= 2) {
      const float* p1 = PanelOf(x + ldx, p, w.cols, pad[1]);
      t1l = hn::LoadU(d, p1);
      t1h = hn::LoadU(d, p1 + 16);
    }
    if (B >= 3) {
      const float* p2 = PanelOf(x + 2 * ldx, p, w.cols, pad[2]);
      t2l = hn::LoadU(d, p2);
      t2h = hn::LoadU(d, p2 + 16);
    }
    if (B >= 4) {
      const float* p3 = PanelOf(x + 3 * ldx, p, w.cols, pad[3]);
      t3l = hn::LoadU(d, p3);
      t3h = hn::LoadU(d, p3 + 16);
    }
    const uint8_t* HWY_RESTRICT cols = w.columns + size_t{s} * kGroup;
    const float* HWY_RESTRICT vals = w.values + size_t{s} * kGroup;
    if (B == 1) {
      for (; s + 2 <= e; s += 2, cols += 2 * kGroup, vals += 2 * kGroup) {
        const auto i0 = hn::PromoteTo(di, hn::LoadU(du8, cols));
        const auto i1 = hn::PromoteTo(di, hn::LoadU(du8, cols + kGroup));
        a0 = hn::MulAdd(hn::LoadU(d, vals), Lookup32(t0l, t0h, i0), a0);
        b0 = hn::MulAdd(hn::LoadU(d, vals + kGroup), Lookup32(t0l, t0h, i1),
                        b0);
      }
    }
    for (; s < e; ++s, cols += kGroup, vals += kGroup) {
      const auto idx = hn::PromoteTo(di, hn::LoadU(du8, cols));
      const V v = hn::LoadU(d, vals);
      a0 = hn::MulAdd(v, Lookup32(t0l, t0h, idx), a0);
      if (B >= 2) a1 = hn::MulAdd(v, Lookup32(t1l, t1h, idx), a1);
      if (B >= 3) a2 = hn::MulAdd(v, Lookup32(t2l, t2h, idx), a2);
      if (B >= 4) a3 = hn::MulAdd(v, Lookup32(t3l, t3h, idx), a3);
    }
  }
  const size_t r0 = g * kGroup;
  StoreLanes(d, hn::Add(a0, b0), r0, w.rows, epilogue, y);
  if (B >= 2) StoreLanes(d, a1, r0, w.rows, epilogue, y + ldy);
  if (B >= 3) StoreLanes(d, a2, r0, w.rows, epilogue, y + 2 * ldy);
  if (B >= 4) StoreLanes(d, a3, r0, w.rows, epilogue, y + 3 * ldy);
}

#else  // !SPRUCE_HAVE_LOOKUP32

// Rows j0..j0+B-1 of X against group g, in vectors of fewer than 16 lanes:
// each slot's activations gathered from the panel.
template <size_t B>
HWY_INLINE void GroupBlock(const LookupView& w, size_t g, const float* x,
                           size_t ldx, float* y, size_t ldy,
                           const Epilogue& epilogue) {
  const hn::CappedTag<float, kGroup> d;
  const hn::RebindToSigned<decltype(d)> di;
  const hn::Rebind<uint8_t, decltype(di)> du8;
  const size_t lanes = hn::Lanes(d);
  HWY_ALIGN float pad[kMaxBlock][kPanel];
  const size_t panels = w.panels();
  const uint32_t* HWY_RESTRICT sp = w.slot_ptr + g * panels;
  for (size_t lane0 = 0; lane0 < kGroup; lane0 += lanes) {
    if (g * kGroup + lane0 >= w.rows) break;
    auto a0 = hn::Zero(d), a1 = a0, a2 = a0, a3 = a0;
    for (size_t p = 0; p < panels; ++p) {
      uint32_t s = sp[p];
      const uint32_t e = sp[p + 1];
      if (s == e) continue;
      const float* p0 = PanelOf(x, p, w.cols, pad[0]);
      const float* p1 = B >= 2 ? PanelOf(x + ldx, p, w.cols, pad[1]) : p0;
      const float* p2 = B >= 3 ? PanelOf(x + 2 * ldx, p, w.cols, pad[2]) : p0;
      const float* p3 = B >= 4 ? PanelOf(x + 3 * ldx, p, w.cols, pad[3]) : p0;
      for (; s < e; ++s) {
        const size_t at = size_t{s} * kGroup + lane0;
        const auto idx = hn::PromoteTo(di, hn::LoadU(du8, w.columns + at));
        const auto v = hn::LoadU(d, w.values + at);
        a0 = hn::MulAdd(v, hn::GatherIndex(d, p0, idx), a0);
        if (B >= 2) a1 = hn::MulAdd(v, hn::GatherIndex(d, p1, idx), a1);
        if (B >= 3) a2 = hn::MulAdd(v, hn::GatherIndex(d, p2, idx), a2);
        if (B >= 4) a3 = hn::MulAdd(v, hn::GatherIndex(d, p3, idx), a3);
      }
    }
    const size_t r0 = g * kGroup + lane0;
    StoreLanes(d, a0, r0, w.rows, epilogue, y);
    if (B >= 2) StoreLanes(d, a1, r0, w.rows, epilogue, y + ldy);
    if (B >= 3) StoreLanes(d, a2, r0, w.rows, epilogue, y + 2 * ldy);
    if (B >= 4) StoreLanes(d, a3, r0, w.rows, epilogue, y + 3 * ldy);
  }
}

#endif  // SPRUCE_HAVE_LOOKUP32

void SpmmLookup(const LookupView& w, const float* x, size_t ldx, size_t n,
                float* y, size_t ldy, const Epilogue& epilogue,
                size_t group_begin, size_t group_end) {
  for (size_t j0 = 0; j0 < n; j0 += kMaxBlock) {
    const size_t block = std::min(kMaxBlock, n - j0);
    const float* xj = x + j0 * ldx;
    float* yj = y + j0 * ldy;
    for (size_t g = group_begin; g < group_end; ++g) {
      switch (block) {
        case 1:
          GroupBlock<1>(w, g, xj, ldx, yj, ldy, epilogue);
          break;
        case 2:
          GroupBlock<2>(w, g, xj, ldx, yj, ldy, epilogue);
          break;
        case 3:
          GroupBlock<3>(w, g, xj, ldx, yj, ldy, epilogue);
          break;
        default:
          GroupBlock<4>(w, g, xj, ldx, yj, ldy, epilogue);
          break;
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace spruce::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace spruce::kernels {

HWY_EXPORT(SpmmLookup);

size_t lookup_slots(const CsrView& w, uint32_t* slot_ptr) {
  const LookupView shape{w.rows, w.cols};
  const size_t groups = shape.groups(), panels = shape.panels();
  std::vector<uint32_t> count(kLookupGroupRows * panels);
  size_t total = 0;
  slot_ptr[0] = 0;
  for (size_t g = 0; g < groups; ++g) {
    std::fill(count.begin(), count.end(), 0u);
    for (size_t i = 0; i < kLookupGroupRows; ++i) {
      const size_t r = g * kLookupGroupRows + i;
      if (r >= w.rows) break;
      for (uint32_t k = w.row_ptr[r]; k < w.row_ptr[r + 1]; ++k) {
        ++count[i * panels + w.col(k) / kLookupPanelCols];
      }
    }
    for (size_t p = 0; p < panels; ++p) {
      uint32_t slots = 0;
      for (size_t i = 0; i < kLookupGroupRows; ++i) {
        slots = std::max(slots, count[i * panels + p]);
      }
      total += slots;
      slot_ptr[g * panels + p + 1] = static_cast<uint32_t>(total);
    }
  }
  return total;
}

void pack_lookup(const CsrView& w, const uint32_t* slot_ptr, uint8_t* columns,
                 float* values) {
  const LookupView shape{w.rows, w.cols};
  const size_t groups = shape.groups(), panels = shape.panels();
  std::fill(columns, columns + slot_ptr[groups * panels] * kLookupGroupRows,
            uint8_t{0});
  std::fill(values, values + slot_ptr[groups * panels] * kLookupGroupRows,
            0.0f);
  std::vector<uint32_t> next(panels);  // a row's next free slot per panel
  for (size_t g = 0; g < groups; ++g) {
    for (size_t i = 0; i < kLookupGroupRows; ++i) {
      const size_t r = g * kLookupGroupRows + i;
      if (r >= w.rows) break;
      std::copy(slot_ptr + g * panels, slot_ptr + (g + 1) * panels,
                next.begin());
      for (uint32_t k = w.row_ptr[r]; k < w.row_ptr[r + 1]; ++k) {
        const size_t c = w.col(k);
        const size_t at = next[c / kLookupPanelCols]++ * kLookupGroupRows + i;
        columns[at] = static_cast<uint8_t>(c % kLookupPanelCols);
        values[at] = w.values[k];
      }
    }
  }
}

void spmm_lookup(const LookupView& w, const float* x, size_t ldx, size_t n,
                 float* y, size_t ldy, const Epilogue& epilogue,
                 size_t group_begin, size_t group_end) {
  HWY_DYNAMIC_DISPATCH(SpmmLookup)
  (w, x, ldx, n, y, ldy, epilogue, group_begin, group_end);
}

}  // namespace spruce::kernels
#endif  // HWY_ONCE
