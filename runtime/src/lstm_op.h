// The LSTM op as planned at load. Two ways to run it, chosen per layer and
// per batch width by timing both on the running CPU:
//
//  steps: spruce's own loop. Per direction, the input projection of all time
//    steps is one product W · X (seq × batch columns, bias fused), then each
//    step runs the recurrent product R · h (batch columns) and the fused cell
//    update (kernels::lstm_cell). Both products are LinearOps, so each picks
//    CSR, BSR or oneDNN matmul by timing, as Linear layers do.
//  onednn: oneDNN's LSTM primitive (DenseLstm) over the whole layer.
//
// Activation layouts: the steps loop reads X feature-major ([in × seq·batch],
// columns in X's leading-dimension order) and writes a merged Y feature-major
// when another layer reads it, so stacked LSTMs and following Linear layers
// need no transposes; a model output, a non-merged (ONNX 4-D) Y and the
// states are row-major.
#ifndef SPRUCE_RUNTIME_LSTM_OP_H_
#define SPRUCE_RUNTIME_LSTM_OP_H_

#include <cstddef>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

#include "dense_lstm.h"
#include "graph.h"
#include "linear_op.h"

namespace spruce {

class LstmOp {
 public:
  // Batches below this run the kernel chosen at batch 1; wider ones the one
  // chosen at kWideBatch. Choices are timed over kProbeSteps steps.
  static constexpr size_t kNarrowBelow = 8;
  static constexpr size_t kWideBatch = 16;
  static constexpr size_t kProbeSteps = 16;

  enum class Kernel : uint8_t { kSteps, kOneDnn };
  // How one batch width runs, and oneDNN LSTM time / its time at load.
  struct Choice {
    Kernel kernel = Kernel::kOneDnn;
    double speedup = 1.0;
  };

  LstmOp(const Graph& graph, const NodeDesc& node,
         const LinearPlanOptions& options, const dnnl::engine& engine);

  // One run's tensors. x in the layout input_feature_major(batch) asks for;
  // h0/c0 as the node's params lay them out, or null for zeros; outputs null
  // where the node does not produce them. A merged y may be feature-major
  // (for a following LSTM or Linear) or row-major.
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
    return choice(batch).kernel == Kernel::kSteps;
  }
  const Choice& choice(size_t batch) const {
    return batch < kNarrowBelow ? narrow_ : wide_;
  }
  // "onednn-lstm", or "steps(<projection kernel>, <recurrent kernel>)" with
  // the kernels direction 0's products run for `batch`.
  std::string kernel_name(size_t batch) const;
  const LstmParams& params() const { return params_; }

 private:
  struct Direction {
    std::unique_ptr<LinearOp> projection;  // W · x + b, all steps at once
    std::unique_ptr<LinearOp> recurrent;   // R · h, one step
    bool reverse = false;
  };
  void run_kernel(Kernel kernel, const Io& io, int num_threads) const;
  void run_steps(const Io& io, int num_threads) const;
  void run_onednn(const Io& io) const;
  void choose_by_timing(int num_threads);
  double time_kernel(Kernel kernel, size_t batch, int num_threads) const;

  LstmParams params_;
  size_t in_;
  size_t hidden_;
  size_t dirs_;
  std::vector<Direction> directions_;
  std::unique_ptr<DenseLstm> dense_;
  Choice narrow_;
  Choice wide_;
};

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_LSTM_OP_H_
