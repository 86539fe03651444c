// oneDNN primitives compiled per shape, kept a few at a time, and run with
// their scratchpad in the calling thread's workspace; fused activations as
// post-ops: the one mechanism every oneDNN-backed op (dense Linear, Conv,
// LSTM, pools, MatMul) uses.
#ifndef SPRUCE_RUNTIME_PRIMITIVE_CACHE_H_
#define SPRUCE_RUNTIME_PRIMITIVE_CACHE_H_

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>
#include <utility>

#include "parallel.h"
#include "spruce/kernels/spmm.h"
#include "workspace.h"

namespace spruce {

// Compiled entries by Key and the OpenMP thread count they were made for
// (oneDNN bakes it into a primitive). At most `capacity` are kept, so a
// stream of ever-new shapes (sequence lengths) cannot grow memory; a run
// still using an evicted entry holds its own reference.
template <typename Key, typename Compiled>
class PrimitiveCache {
 public:
  explicit PrimitiveCache(size_t capacity) : capacity_(capacity) {}

  // The entry for `key` at primitive_threads(), made by `make()` (returning
  // std::shared_ptr<Compiled>) on a miss. Thread-safe.
  template <typename Make>
  std::shared_ptr<const Compiled> get(const Key& key, Make&& make) const {
    auto full = std::make_pair(key, primitive_threads());
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto it = entries_.find(full);
    if (it != entries_.end()) return it->second;
    std::shared_ptr<const Compiled> made = make();
    if (entries_.size() >= capacity_) entries_.erase(entries_.begin());
    return entries_.emplace(std::move(full), std::move(made)).first->second;
  }

 private:
  size_t capacity_;
  mutable std::mutex mutex_;
  mutable std::map<std::pair<Key, int>, std::shared_ptr<const Compiled>>
      entries_;
};

// Appends the post-op computing `activation` to `ops`; false when it
// appends none: for no activation, and for those spruce runs itself over
// the primitive's output (activation_after_onednn).
bool append_activation(kernels::Activation activation, dnnl::post_ops* ops);

// The activation a oneDNN primitive's caller applies to its output after
// the primitive runs, kNone when the post-op does it: SiLU and sigmoid,
// whose Highway kernels (kernels::apply_epilogue) beat oneDNN 2.6's eltwise
// post-ops even as a second pass over the output (a 16->96 1x1
// convolution at 112x112, 1 thread: swish post-op +700 us, logistic +420,
// spruce's SiLU pass about 300).
kernels::Activation activation_after_onednn(kernels::Activation activation);

// Applies activation_after_onednn(activation), if any, to a primitive's
// output y[0:count], split over `num_threads`.
void apply_activation_after_onednn(kernels::Activation activation, float* y,
                                   size_t count, int num_threads);

// Runs `primitive` on `args` and waits; a non-empty `scratchpad` is given
// the calling thread's workspace (primitives are made with
// scratchpad_mode::user).
inline void execute_primitive(const dnnl::primitive& primitive,
                              const dnnl::engine& engine,
                              std::unordered_map<int, dnnl::memory> args,
                              const dnnl::memory::desc& scratchpad) {
  const size_t scratch_bytes = scratchpad.get_size();
  if (scratch_bytes > 0) {
    args.emplace(DNNL_ARG_SCRATCHPAD,
                 dnnl::memory(scratchpad, engine,
                              thread_workspace(WorkspaceSlot::kScratchpad,
                                               scratch_bytes)));
  }
  dnnl::stream stream(engine);
  primitive.execute(stream, args);
  stream.wait();
}

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_PRIMITIVE_CACHE_H_
