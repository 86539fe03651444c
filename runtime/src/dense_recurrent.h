// A whole recurrent layer (one or both directions) on oneDNN's primitive for
// its cell (lstm_forward, gru_forward, lbr_gru_forward or
// vanilla_rnn_forward; forward inference): the dense baseline and the
// fallback for layers whose weights are dense or too weakly pruned to gain
// from sparsity.
//
// Tensors are row-major in oneDNN's terms: X [seq, batch, in] (tnc) or
// [batch, seq, in] (ntc); Y [seq, batch, dirs × H] (or batch-major) with the
// directions side by side; states [dirs, batch, H]. A primitive (and the
// weights reordered into its preferred layout) is made once per (seq, batch)
// and cached, at most kMaxCachedShapes of them.
#ifndef SPRUCE_RUNTIME_DENSE_RECURRENT_H_
#define SPRUCE_RUNTIME_DENSE_RECURRENT_H_

#include <cstddef>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <utility>
#include <vector>

#include "primitive_cache.h"
#include "spruce/recurrent_params.h"

namespace spruce {

class DenseRecurrent {
 public:
  // Per direction: W [G·H × in], R [G·H × H] (a GRU's Rzr and Rh one under
  // the other), B as recurrent_params.h lays it out, ONNX gate order,
  // row-major. Copied (into oneDNN's gate order) here.
  struct DirectionWeights {
    const float* w;
    const float* r;
    const float* b;
  };
  // `params` gives the cell, its options, the direction and H.
  DenseRecurrent(const dnnl::engine& engine, const RecurrentParams& params,
                 size_t in, const std::vector<DirectionWeights>& weights);

  // x: X as above (batch-major when `x_batch_major`); h0, c0: initial
  // states [dirs, batch, H], or null for zeros; y: Y (batch-major when
  // `y_batch_major`); hy, cy: final states [dirs, batch, H]. Only h0 and c0
  // may be null; c0 and cy are an LSTM's only.
  void run(const float* x, bool x_batch_major, size_t seq, size_t batch,
           const float* h0, const float* c0, float* y, bool y_batch_major,
           float* hy, float* cy) const;

 private:
  struct Compiled {
    dnnl::primitive primitive;
    dnnl::memory::desc src_layer, src_iter, dst_layer, dst_iter;
    dnnl::memory weights_layer, weights_iter,
        bias;  // in the primitive's layout
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
  RecurrentParams params_;
  size_t in_;
  size_t hidden_;
  size_t dirs_;
  size_t gates_;       // G in oneDNN's weights
  size_t bias_gates_;  // in oneDNN's bias (4 for lbr_gru)
  // User layouts: weights ldigo [1, dirs, in|H, G, H]; bias ldgo.
  std::vector<float> weights_layer_;
  std::vector<float> weights_iter_;
  std::vector<float> bias_;
  // By (seq, batch) and the layouts.
  PrimitiveCache<std::pair<Key, int>, Compiled> cache_{kMaxCachedShapes};
};

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_DENSE_RECURRENT_H_
