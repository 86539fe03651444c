// Lookup of 16 lanes in a 32-float table held in two 512-bit vectors: one
// instruction (vpermt2ps) on AVX-512. Highway 1.0.3, the version Debian 12
// ships, lacks this op (later Highway has it as TwoTablesLookupLanes, with
// the same meaning); with such a Highway this header uses it, and the one
// x86 instruction below goes away. Two single-table lookups and a select do
// the same in 1.0.3's own ops, measured 20% slower in spmm_lookup.
//
// Per-target include guard, as Highway's own -inl.h files.
#if defined(SPRUCE_KERNELS_TABLE_LOOKUP_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SPRUCE_KERNELS_TABLE_LOOKUP_INL_H_
#undef SPRUCE_KERNELS_TABLE_LOOKUP_INL_H_
#else
#define SPRUCE_KERNELS_TABLE_LOOKUP_INL_H_
#endif

#include "hwy/highway.h"

// Whether this target has 16-float vectors and Lookup32 below.
#undef SPRUCE_HAVE_LOOKUP32
#if HWY_TARGET <= HWY_AVX3
#define SPRUCE_HAVE_LOOKUP32 1
#else
#define SPRUCE_HAVE_LOOKUP32 0
#endif

HWY_BEFORE_NAMESPACE();
namespace spruce::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if SPRUCE_HAVE_LOOKUP32
// lane i = table[index[i] & 31], table = lo (0..15) then hi (16..31).
HWY_INLINE hn::Vec512<float> Lookup32(hn::Vec512<float> lo,
                                      hn::Vec512<float> hi,
                                      hn::Vec512<int32_t> index) {
#if HWY_MAJOR > 1 || (HWY_MAJOR == 1 && HWY_MINOR >= 1)
  const hn::Full512<float> d;
  return hn::TwoTablesLookupLanes(d, lo, hi, hn::IndicesFromVec(d, index));
#else
  return hn::Vec512<float>{_mm512_permutex2var_ps(lo.raw, index.raw, hi.raw)};
#endif
}
#endif  // SPRUCE_HAVE_LOOKUP32

}  // namespace HWY_NAMESPACE
}  // namespace spruce::kernels
HWY_AFTER_NAMESPACE();

#endif  // SPRUCE_KERNELS_TABLE_LOOKUP_INL_H_
