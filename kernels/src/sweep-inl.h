// One pass over [0, count) in whole vectors, then narrower ones: the
// shape every elementwise loop over a span of floats takes here, so tails
// (a 7×7 plane's row group, the last channels of a pixel) run in 8-, 4-
// and 1-lane vectors instead of one scalar step per float, and nothing is
// read or written past count.
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

}  // namespace HWY_NAMESPACE
}  // namespace spruce::kernels
HWY_AFTER_NAMESPACE();

#endif  // SPRUCE_KERNELS_SWEEP_INL_H_
