#include "packed_weights.h"

#include <algorithm>

namespace spruce {

PackedDense::PackedDense(const float* w, size_t out, size_t in) {
  const size_t width = kernels::dense_panel_width();
  floats_ = kernels::packed_dense_floats(out, in, width);
  panels_ = hwy::AllocateAligned<float>(floats_);
  kernels::pack_dense(w, out, in, in, width, panels_.get());
  view_ = {out, in, width, panels_.get()};
}

LookupMatrix::LookupMatrix(const kernels::CsrView& w) {
  view_.rows = w.rows;
  view_.cols = w.cols;
  const size_t groups = view_.groups(), panels = view_.panels();
  slot_ptr_.resize(groups * panels + 1);
  const size_t slots = kernels::lookup_slots(w, slot_ptr_.data());
  columns_.resize(slots * kernels::kLookupGroupRows);
  values_ = hwy::AllocateAligned<float>(
      std::max<size_t>(1, slots * kernels::kLookupGroupRows));
  kernels::pack_lookup(w, slot_ptr_.data(), columns_.data(), values_.get());
  view_.slot_ptr = slot_ptr_.data();
  view_.columns = columns_.data();
  view_.values = values_.get();
  group_slots_.resize(groups + 1);
  for (size_t g = 0; g <= groups; ++g) group_slots_[g] = slot_ptr_[g * panels];
}

size_t LookupMatrix::bytes() const {
  return slot_ptr_.size() * sizeof(uint32_t) + columns_.size() +
         columns_.size() * sizeof(float);
}

}  // namespace spruce
