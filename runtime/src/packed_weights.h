// Weights repacked at load for the small-batch kernels: the owning forms of
// kernels::PackedDenseView (dense W in panels) and kernels::LookupView
// (sparse W with rows as lanes). Built once per layer that may run them,
// freed with the layer's other unused candidates when the timing at load
// picks something else.
#ifndef SPRUCE_RUNTIME_PACKED_WEIGHTS_H_
#define SPRUCE_RUNTIME_PACKED_WEIGHTS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "hwy/aligned_allocator.h"
#include "spruce/kernels/dense_packed.h"
#include "spruce/kernels/spmm_lookup.h"

namespace spruce {

class PackedDense {
 public:
  PackedDense() = default;
  // W [out × in], row-major, in panels of this CPU's width.
  PackedDense(const float* w, size_t out, size_t in);

  const kernels::PackedDenseView& view() const { return view_; }
  size_t bytes() const { return floats_ * sizeof(float); }

 private:
  hwy::AlignedFreeUniquePtr<float[]> panels_;
  size_t floats_ = 0;
  kernels::PackedDenseView view_;
};

class LookupMatrix {
 public:
  LookupMatrix() = default;
  explicit LookupMatrix(const kernels::CsrView& w);

  const kernels::LookupView& view() const { return view_; }
  // Slots before group g (a prefix over groups, for splitting threads by
  // work): groups() + 1 entries.
  const std::vector<uint32_t>& slots_before_group() const {
    return group_slots_;
  }
  size_t bytes() const;

 private:
  std::vector<uint32_t> slot_ptr_;
  std::vector<uint8_t> columns_;
  hwy::AlignedFreeUniquePtr<float[]> values_;
  std::vector<uint32_t> group_slots_;
  kernels::LookupView view_;
};

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_PACKED_WEIGHTS_H_
