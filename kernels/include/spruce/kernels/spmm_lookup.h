// Sparse W times a few rows of activations without gathers:
// Y[n × rows] = act(X[n × cols] · Wᵀ + bias), for n from 1 to a few
// (batch-1 latency, LSTM steps), where the CSR kernel has too few columns to
// fill a vector and fetches each activation with a gather.
//
// Rows as lanes. W's rows go in groups of kLookupGroupRows and its columns
// in panels of kLookupPanelCols. For each (group, panel) there are as many
// slots as the group's fullest row has non-zeros in that panel; slot s
// holds, for every row of the group, one of that row's non-zeros in the
// panel: its value and its column within the panel (value 0 where the row
// has run out). The kernel keeps X's panel in two vector registers and
// fetches the activations of all sixteen lanes of a slot with one table
// lookup, then one FMA; the sixteen outputs of a group are stored as one
// vector. Padding costs memory and work (a 90%-sparse W stores about twice
// its non-zeros), yet on CPUs whose gathers are slow this runs several times
// faster than gathering. CPUs without 16-lane vectors fetch the lanes with
// gathers from the panel instead.
#ifndef SPRUCE_KERNELS_SPMM_LOOKUP_H_
#define SPRUCE_KERNELS_SPMM_LOOKUP_H_

#include <cstddef>
#include <cstdint>

#include "spruce/kernels/spmm.h"

namespace spruce::kernels {

inline constexpr size_t kLookupGroupRows = 16;
inline constexpr size_t kLookupPanelCols = 32;

struct LookupView {
  size_t rows = 0;
  size_t cols = 0;
  // groups() × panels() + 1 prefix sums of slots, group-major: the slots of
  // (group g, panel p) are [slot_ptr[g·panels + p], slot_ptr[g·panels + p + 1]).
  const uint32_t* slot_ptr = nullptr;
  const uint8_t* columns = nullptr;  // kLookupGroupRows per slot
  const float* values = nullptr;     // kLookupGroupRows per slot

  size_t groups() const {
    return (rows + kLookupGroupRows - 1) / kLookupGroupRows;
  }
  size_t panels() const {
    return (cols + kLookupPanelCols - 1) / kLookupPanelCols;
  }
  size_t slots() const { return slot_ptr[groups() * panels()]; }
};

// Fills slot_ptr (groups × panels + 1 entries) for W and returns the total
// slot count, which sizes `columns` and `values` for pack_lookup.
size_t lookup_slots(const CsrView& w, uint32_t* slot_ptr);

// Fills columns and values (slots × kLookupGroupRows each) from W, with
// slot_ptr as lookup_slots made it. W's columns need not be sorted.
void pack_lookup(const CsrView& w, const uint32_t* slot_ptr, uint8_t* columns,
                 float* values);

// Y[j, r] = act(sum_c X[j, c] · W[r, c] + bias[r]) for j < n and the rows
// of groups [group_begin, group_end). X's row j starts at x + j·ldx, Y's at
// y + j·ldy. With epilogue.accumulate, adds to what Y holds.
void spmm_lookup(const LookupView& w, const float* x, size_t ldx, size_t n,
                 float* y, size_t ldy, const Epilogue& epilogue,
                 size_t group_begin, size_t group_end);

// The scalar reference on W in CSR (double accumulation), same X and Y
// layouts, rows [row_begin, row_end).
void spmm_lookup_reference(const CsrView& w, const float* x, size_t ldx,
                           size_t n, float* y, size_t ldy,
                           const Epilogue& epilogue, size_t row_begin,
                           size_t row_end);

}  // namespace spruce::kernels

#endif  // SPRUCE_KERNELS_SPMM_LOOKUP_H_
