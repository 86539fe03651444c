// A whole LSTM layer (one or both directions) on oneDNN's LSTM primitive
// (lstm_forward, forward inference): the dense baseline and the fallback for
// LSTMs whose weights are dense or too weakly pruned to gain from sparsity.
//
// Tensors are row-major in oneDNN's terms: X [seq, batch, in] (tnc) or
// [batch, seq, in] (ntc); Y [seq, batch, dirs × H] (or batch-major) with the
// directions side by side; states [dirs, batch, H]. A primitive (and the
// weights reordered into its preferred layout) is made once per (seq, batch)
// and cached, at most kMaxCachedShapes of them.
#ifndef SPRUCE_RUNTIME_DENSE_LSTM_H_
#define SPRUCE_RUNTIME_DENSE_LSTM_H_

#include <cstddef>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <utility>
#include <vector>

#include "primitive_cache.h"
#include "spruce/lstm_params.h"

namespace spruce {

class DenseLstm {
 public:
  // Per direction: W [4H × in], R [4H × H], B [4H], ONNX gate order
  // (i, o, f, c), row-major. Copied (into oneDNN's gate order) here.
  struct DirectionWeights {
    const float* w;
    const float* r;
    const float* b;
  };
  DenseLstm(const dnnl::engine& engine, size_t in, size_t hidden,
            LstmDirection direction, const std::vector<DirectionWeights>& weights);

  // x: X as above (batch-major when `x_batch_major`); h0, c0: initial
  // states [dirs, batch, H], or null for zeros; y: Y (batch-major when
  // `y_batch_major`); hy, cy: final states [dirs, batch, H]. Only h0 and c0
  // may be null.
  void run(const float* x, bool x_batch_major, size_t seq, size_t batch,
           const float* h0, const float* c0, float* y, bool y_batch_major,
           float* hy, float* cy) const;

 private:
  struct Compiled {
    dnnl::lstm_forward primitive;
    dnnl::memory::desc src_layer, src_iter, dst_layer, dst_iter;
    dnnl::memory weights_layer, weights_iter, bias;  // in the primitive's layout
    dnnl::memory::desc scratchpad;
  };
  using Key = std::pair<size_t, size_t>;  // (seq, batch); layouts in the key
  static constexpr size_t kMaxCachedShapes = 16;
  std::shared_ptr<const Compiled> compiled_for(size_t seq, size_t batch,
                                               bool x_batch_major,
                                               bool y_batch_major) const;
  std::shared_ptr<const Compiled> compile(size_t seq, size_t batch,
                                          bool x_batch_major,
                                          bool y_batch_major) const;

  dnnl::engine engine_;
  size_t in_;
  size_t hidden_;
  size_t dirs_;
  LstmDirection direction_;
  // User layouts: weights ldigo [1, dirs, in|H, 4, H]; bias ldgo.
  std::vector<float> weights_layer_;
  std::vector<float> weights_iter_;
  std::vector<float> bias_;
  // By (seq, batch) and the layouts.
  PrimitiveCache<std::pair<Key, int>, Compiled> cache_{kMaxCachedShapes};
};

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_DENSE_LSTM_H_
