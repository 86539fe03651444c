// One pass over [0, count) in whole vectors, then narrower ones: the
// shape every elementwise loop over a span of floats takes here, so tails
// (a 7×7 plane's row group, the last channels of a pixel) run in 8-, 4-
// and 1-lane vectors instead of one scalar step per float, and nothing is
// read or written past count; and a span's tail stored as one partial
// vector (StorePartial) where the target can.
//
// Included once per target by a Highway source (after foreach_target.h), so
// it uses the per-target include guard idiom of Highway's own -inl.h files.
#if defined(SPRUCE_KERNELS_SWEEP_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SPRUCE_KERNELS_SWEEP_INL_H_
#undef SPRUCE_KERNELS_SWEEP_INL_H_
#else
#define SPRUCE_KERNELS_SWEEP_INL_H_
#endif

#include <cstddef>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace spruce::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// body(d, i) for i = 0, Lanes(d), ... with d the widest float tag whose
// vector still fits in [i, count): the target's full vectors, then 8, 4
// and 1 lanes (a width the target does not have adds no pass).
template <class Body>
HWY_INLINE void ForEachWidth(size_t count, const Body& body) {
  size_t i = 0;
  const auto sweep = [&](auto d) {
    const size_t lanes = hn::Lanes(d);
    for (; i + lanes <= count; i += lanes) body(d, i);
  };
  sweep(hn::ScalableTag<float>());
  sweep(hn::CappedTag<float, 8>());
  sweep(hn::CappedTag<float, 4>());
  sweep(hn::CappedTag<float, 1>());
}

// The first `count` (< Lanes(d)) lanes of v to y, nothing past them: a
// row's tail as one vector. AVX2's masked store (vmaskmovps) is microcoded
// on AMD's cores: with one for every vector the stride-2 phase split ran
// 2.4x slower than scalar code on Zen 3, so there a partial vector goes out
// in 4-, 2- and 1-float pieces; AVX-512's masked stores are native.
template <class D>
HWY_INLINE void StorePartial(hn::Vec<D> v, size_t count, D d,
                             float* HWY_RESTRICT y) {
#if HWY_TARGET == HWY_AVX2
  // Halving: the lower half whole if the tail covers it, then the rest of
  // the tail from the upper half.
  constexpr size_t kLanes = hn::MaxLanes(D());
  if constexpr (kLanes == 1) {
    if (count == 1) hn::StoreU(v, d, y);
  } else {
    const hn::Half<D> dh;
    constexpr size_t kHalf = kLanes / 2;
    if (count >= kHalf) {
      hn::StoreU(hn::LowerHalf(dh, v), dh, y);
      StorePartial(hn::UpperHalf(dh, v), count - kHalf, dh, y + kHalf);
    } else {
      StorePartial(hn::LowerHalf(dh, v), count, dh, y);
    }
  }
#else
  hn::BlendedStore(v, hn::FirstN(d, count), d, y);
#endif
}

// The same out of line, for unrolled code that stores a tail rarely:
// inlined into a depthwise kernel's row groups, the pieces slowed their
// whole-vector stores by a tenth.
template <class D>
HWY_NOINLINE void StorePartialOutOfLine(hn::Vec<D> v, size_t count, D d,
                                        float* HWY_RESTRICT y) {
  StorePartial(v, count, d, y);
}

// The first `count` (<= Lanes(d)) lanes of v to y: a whole vector, or the
// row's tail (StorePartial).
template <class D>
HWY_INLINE void StoreFirstN(hn::Vec<D> v, size_t count, D d,
                            float* HWY_RESTRICT y) {
  if (count == hn::Lanes(d)) {
    hn::StoreU(v, d, y);
  } else {
    StorePartial(v, count, d, y);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace spruce::kernels
HWY_AFTER_NAMESPACE();

#endif  // SPRUCE_KERNELS_SWEEP_INL_H_
