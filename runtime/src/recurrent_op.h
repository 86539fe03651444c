// A recurrent layer (LSTM, GRU or RNN) as planned at load. Three ways to
// run it, chosen per layer and per batch width by timing them on the running
// CPU (kernel_choice.h):
//
//  steps: spruce's own loop. Per direction, the input projection of all time
//    steps is one product W · X (seq × batch columns, bias fused), then each
//    step runs the recurrent product R · h (batch columns) and the fused cell
//    update (kernels/recurrent_cells.h). A GRU's step runs two recurrent
//    products, Rzr · h and the candidate's Rh · h (or Rh · (r ⊙ h) without
//    linear_before_reset). Every product is a LinearOp, so each picks its
//    kernel (sparse or dense) by timing, as Linear layers do.
//  dense-steps: the same loop with dense kernels only (at batch 1 spruce's
//    dense kernel streams R faster than oneDNN's primitives do).
//  onednn: oneDNN's primitive for the cell (DenseRecurrent) over the whole
//    layer.
// The two dense ones are the yardstick the sparse steps must beat.
//
// Activation layouts: the steps loop reads X feature-major ([in × seq·batch],
// columns in X's leading-dimension order) and writes a merged Y feature-major
// when another layer reads it, so stacked LSTMs and following Linear layers
// need no transposes; a model output, a non-merged (ONNX 4-D) Y and the
// states are row-major.
#ifndef SPRUCE_RUNTIME_RECURRENT_OP_H_
#define SPRUCE_RUNTIME_RECURRENT_OP_H_

#include <cstddef>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

#include "dense_recurrent.h"
#include "graph.h"
#include "kernel_choice.h"
#include "linear_op.h"

namespace spruce {

class RecurrentOp {
 public:
  // The batches the ways are timed at, each over kProbeSteps steps; a batch
  // runs what was fastest at the largest of them not above it.
  static constexpr size_t kBatchProbes[] = {1, 4, 16};
  static constexpr size_t kProbeSteps = 16;

  enum class Kernel : uint8_t { kOneDnn, kDenseSteps, kSteps };

  RecurrentOp(const Graph& graph, const NodeDesc& node,
              const LinearPlanOptions& options, const dnnl::engine& engine);

  // One run's tensors. x in the layout input_feature_major(batch) asks for;
  // h0/c0 as the node's params lay them out, or null for zeros (c0 and y_c
  // are an LSTM's only); outputs null where the node does not produce them. A
  // merged y may be feature-major (for a following LSTM or Linear) or
  // row-major.
  struct Io {
    const float* x = nullptr;
    size_t seq = 0;
    size_t batch = 0;
    const float* h0 = nullptr;
    const float* c0 = nullptr;
    float* y = nullptr;
    bool y_feature_major = false;  // merged outputs only
    float* y_h = nullptr;
    float* y_c = nullptr;
  };
  void run(const Io& io, int num_threads) const;

  bool input_feature_major(size_t batch) const {
    return choice_.at(batch).kernel != Kernel::kOneDnn;
  }
  const KernelChoice<Kernel>& choice() const { return choice_; }
  // "onednn-lstm" (-gru, -rnn), or "steps(<projection kernel>, <recurrent
  // kernel>)" with the kernels direction 0's products run for `batch`.
  std::string kernel_name(size_t batch) const;
  // Multiply-adds oneDNN does in a run of `seq` steps at `batch`: all of
  // them on its recurrent primitive, or the steps loop's products it runs.
  double onednn_multiply_adds(size_t seq, size_t batch) const;
  const RecurrentParams& params() const { return params_; }

 private:
  struct Direction {
    std::unique_ptr<LinearOp> projection;  // W · x + b, all steps at once
    std::unique_ptr<LinearOp> recurrent;   // R · h (a GRU's Rzr · h), a step
    std::unique_ptr<LinearOp> candidate;   // a GRU's Rh · h + Rbh, a step
    bool reverse = false;
  };
  std::vector<Direction> make_directions(const Graph& graph,
                                         const NodeDesc& node,
                                         const LinearPlanOptions& options,
                                         const dnnl::engine& engine) const;
  void run_kernel(Kernel kernel, const Io& io, int num_threads) const;
  void run_steps(const std::vector<Direction>& directions, const Io& io,
                 int num_threads) const;
  void run_onednn(const Io& io) const;
  double time_kernel(Kernel kernel, size_t batch, int num_threads) const;

  RecurrentParams params_;
  size_t in_;
  size_t hidden_;
  size_t dirs_;
  size_t gates_;                        // rows of W: G·H
  std::vector<Direction> steps_;        // LinearOps with every kernel
  std::vector<Direction> dense_steps_;  // LinearOps with dense kernels only
  std::unique_ptr<DenseRecurrent> dense_;
  KernelChoice<Kernel> choice_;
};

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_RECURRENT_OP_H_
