// Per-thread scratch memory that outlives one run.
//
// Kernels need temporaries (a padded image split by stride phase, oneDNN's
// blocked activations and scratchpad) whose sizes repeat from run to run.
// Allocating them per call costs more than the arithmetic on big images:
// glibc hands out large blocks with mmap, so every run page-faults and
// zero-fills them afresh. A workspace keeps one buffer per (thread, slot),
// grown to the largest request and never shrunk, so steady-state runs
// allocate nothing. Memory held: for each thread that ever ran a model, the
// largest temporary of each slot. Contents are unspecified on return.
#ifndef SPRUCE_RUNTIME_WORKSPACE_H_
#define SPRUCE_RUNTIME_WORKSPACE_H_

#include <cstddef>
#include <memory>

namespace spruce {

enum class WorkspaceSlot {
  kConvInput,       // padded phase planes / blocked src
  kConvOutput,      // wide rows before trimming / blocked dst
  kConvImages,      // images interleaved, before padding / after the product
  kScratchpad,      // oneDNN primitive scratchpad
  kLinearSlice,     // a column slice of a Linear's input, packed
  kLinearTile,      // a Linear's output for one slice, before transposing
  kRecurrentState,  // the recurrent steps loop's projections and states
  kCount,
};

// A 64-byte aligned buffer of at least `bytes` for the calling thread. Two
// calls with the same slot on one thread return overlapping memory: a
// kernel must not use one slot for two live temporaries.
void* thread_workspace(WorkspaceSlot slot, size_t bytes);

template <typename T>
T* thread_workspace_as(WorkspaceSlot slot, size_t count) {
  return static_cast<T*>(thread_workspace(slot, count * sizeof(T)));
}

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_WORKSPACE_H_
