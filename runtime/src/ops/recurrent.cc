// LSTM, GRU and RNN: ONNX's ops (LSTM gates i, o, f, c with
// sigmoid/tanh/tanh; GRU gates z, r, h with sigmoid/tanh, either form of the
// candidate; RNN with tanh, relu or sigmoid; no peepholes, clip or sequence
// lengths) with the surrounding layout changes of PyTorch exports folded in
// (RecurrentParams, from the attributes op_params.h names). Inputs X,
// initial_h, initial_c (the states optional, initial_c an LSTM's only);
// outputs Y, Y_h, Y_c (each optional, at least one; Y_c an LSTM's only);
// weights per direction as recurrent_params.h lists them, matrices in any
// layout, a dense bias. The way it runs per batch (oneDNN's primitive or the
// steps loop) is timed at load (recurrent_op.h).
#include <algorithm>
#include <set>

#include "op_params.h"
#include "ops/op.h"
#include "recurrent_op.h"
#include "spruce/engine.h"

namespace spruce {
namespace {

class RecurrentNode final : public NodeOp {
 public:
  explicit RecurrentNode(const OpInit& init)
      : NodeOp(init),
        params_(recurrent_params_of(init.node.op, init.node.attrs)),
        lstm_(init.graph, init.node, init.plan, init.engine) {}

  bool reads_feature_major() const override {
    return lstm_.input_feature_major(RecurrentOp::kBatchProbes[2]);
  }
  // A merged Y has its features last: kept feature-major for readers that
  // run it so, row-major as a model output (written so directly, not
  // transposed after). States and a 4-D Y stay row-major.
  void plan_layouts(LayoutPlanner& planner) override {
    const uint32_t y = node_.outputs[0];
    if (y != kNoValue && params_.merged_output && reads_feature_major() &&
        planner.feeds_only_feature_major(y)) {
      planner.set_layout(y, Layout::kFeatureMajor);
    }
  }

  void run(RunContext& ctx) const override {
    const RecurrentParams& p = params_;
    const Shape& x = ctx.input_shape(0);
    RecurrentOp::Io io;
    io.seq = static_cast<size_t>(p.input_batch_major ? x[1] : x[0]);
    io.batch = static_cast<size_t>(p.input_batch_major ? x[0] : x[1]);
    io.x =
        ctx.input(0, lstm_.input_feature_major(io.batch) ? Layout::kFeatureMajor
                                                         : Layout::kRowMajor);
    auto input = [&](size_t k) -> const float* {
      return ctx.has_input(k) ? ctx.input(k) : nullptr;
    };
    io.h0 = input(1);
    io.c0 = input(2);
    auto output = [&](size_t k) -> float* {
      return ctx.has_output(k) ? ctx.output(k) : nullptr;
    };
    io.y = output(0);
    io.y_feature_major =
        ctx.has_output(0) && ctx.output_layout(0) == Layout::kFeatureMajor;
    io.y_h = output(1);
    io.y_c = output(2);
    lstm_.run(io, ctx.threads());
  }

  // Its weights together ([G·H, input + H] per direction), the kernel per
  // batch width, and the storage of its matrices ("csr", or "csr+dense" when
  // they differ).
  void describe(LayerInfo* info) const override {
    for (const auto& r : lstm_.choice().ranges()) {
      info->kernels.push_back({static_cast<int64_t>(r.min_batch),
                               lstm_.kernel_name(r.min_batch), r.speedup});
    }
    std::set<std::string> storage;
    double zeros = 0;
    double matrix_elements = 0;
    for (size_t k = 0; k < node_.weights.size(); ++k) {
      const WeightDesc& w = graph_.weights[node_.weights[k]];
      info->stored_bytes += w.stored_bytes;
      info->dense_bytes += w.dense_count() * sizeof(float);
      if (w.shape.size() == 1) continue;  // bias
      storage.insert(storage_name(w.layout));
      zeros += w.sparsity() * static_cast<double>(w.dense_count());
      matrix_elements += static_cast<double>(w.dense_count());
      if (w.layout != WeightLayout::kDense) {
        info->index_bits = static_cast<int>(w.layout == WeightLayout::kCsr
                                                ? w.csr.index_width
                                                : w.bsr.index_width);
      }
      if (w.layout == WeightLayout::kBsr) {
        info->block_shape = std::to_string(w.bsr.block_rows) + "x" +
                            std::to_string(w.bsr.block_cols);
      }
    }
    info->storage.clear();
    for (const std::string& s : storage) {
      info->storage += (info->storage.empty() ? "" : "+") + s;
    }
    info->weight_shape = weight_shape();
    info->sparsity = matrix_elements > 0 ? zeros / matrix_elements : 0.0;
  }
  // Every gate over [x, h] at every step, as if dense.
  void work(const std::vector<Shape>& shapes, double* rows,
            double* multiply_adds) const override {
    const Shape& x = shapes[node_.inputs[0]];
    if (x.size() != 3) return;
    const Shape w = weight_shape();
    *rows = static_cast<double>(x[params_.input_batch_major ? 0 : 1]);
    *multiply_adds = static_cast<double>(w[0] * w[1]) *
                     static_cast<double>(element_count(x)) /
                     static_cast<double>(x.back()) *
                     static_cast<double>(params_.directions());
  }
  // Steps and batch are exact when X is a model input (it usually is);
  // otherwise the batch is taken to have grown with the run.
  double onednn_multiply_adds(const std::vector<Shape>& shapes,
                              double /*multiply_adds*/,
                              size_t rows) const override {
    const uint32_t x = node_.inputs[0];
    const bool batch_major = params_.input_batch_major;
    size_t seq = 1, batch = rows;
    if (std::find(graph_.inputs.begin(), graph_.inputs.end(), x) !=
        graph_.inputs.end()) {
      const Shape& xs = shapes[x];
      seq = static_cast<size_t>(xs[batch_major ? 1 : 0]);
      batch = static_cast<size_t>(xs[batch_major ? 0 : 1]);
    } else {
      const Shape& declared = graph_.values[x].shape;
      seq = declared.size() == 3 ? static_cast<size_t>(std::max<int64_t>(
                                       1, declared[batch_major ? 1 : 0]))
                                 : 1;
    }
    return lstm_.onednn_multiply_adds(seq, std::max<size_t>(batch, 1));
  }
  void count_work(const std::vector<Shape>& shapes, double* /*flops*/,
                  std::string* kernel) const override {
    const Shape& x = shapes[node_.inputs[0]];
    const int64_t batch =
        x.size() == 3 ? x[params_.input_batch_major ? 0 : 1] : 1;
    *kernel =
        lstm_.kernel_name(static_cast<size_t>(std::max<int64_t>(batch, 1)));
  }

 private:
  Shape weight_shape() const {
    const WeightDesc& w = graph_.weights[node_.weights[0]];
    return {w.shape[0], w.shape[1] + params_.hidden_size};
  }

  RecurrentParams params_;
  RecurrentOp lstm_;
};

void check(const Graph& graph, const NodeDesc& node) {
  const std::string what = node_label(node);
  const RecurrentParams p = recurrent_params_of(node.op, node.attrs);
  const size_t states = p.states();
  if (node.inputs.empty() || node.inputs.size() > 1 + states ||
      node.inputs[0] == kNoValue) {
    throw Error(what +
                (states == 2
                     ? " needs input X and at most initial_h and initial_c"
                     : " needs input X and at most initial_h"));
  }
  if (node.outputs.empty() || node.outputs.size() > 1 + states ||
      std::all_of(node.outputs.begin(), node.outputs.end(),
                  [](uint32_t o) { return o == kNoValue; })) {
    throw Error(what +
                (states == 2
                     ? " needs 1 to 3 outputs (Y, Y_h, Y_c), some present"
                     : " needs 1 or 2 outputs (Y, Y_h), some present"));
  }
  const size_t dirs = p.directions();
  const size_t per_dir = p.weights_per_direction();
  if (node.weights.size() != per_dir * dirs) {
    throw Error(what + " needs " + std::to_string(per_dir) +
                " weights per direction, has " +
                std::to_string(node.weights.size()) + " for " +
                std::to_string(dirs));
  }
  const auto hidden = static_cast<int64_t>(p.hidden_size);
  const auto gates = static_cast<int64_t>(p.gates()) * hidden;
  const int64_t in = graph.weights[node.weights[0]].shape.size() == 2
                         ? graph.weights[node.weights[0]].shape[1]
                         : -1;
  auto expect = [&](const WeightDesc& w, const Shape& shape, const char* role) {
    if (w.shape != shape) {
      throw Error(what + " " + role + " '" + w.name + "' has shape " +
                  to_string(w.shape) + ", expected " + to_string(shape));
    }
  };
  for (size_t d = 0; d < dirs; ++d) {
    const uint32_t* ws = node.weights.data() + per_dir * d;
    if (in <= 0) {
      throw Error(what + " input weight '" + graph.weights[ws[0]].name +
                  "' has shape " + to_string(graph.weights[ws[0]].shape) +
                  ", expected [" + std::to_string(gates) + ", input]");
    }
    expect(graph.weights[ws[0]], {gates, in}, "input weight");
    if (p.cell == RecurrentCell::kGru) {
      expect(graph.weights[ws[1]], {2 * hidden, hidden}, "recurrent weight");
      expect(graph.weights[ws[2]], {hidden, hidden}, "candidate weight");
    } else {
      expect(graph.weights[ws[1]], {gates, hidden}, "recurrent weight");
    }
    const WeightDesc& b = graph.weights[ws[p.bias_index()]];
    const auto bias = static_cast<int64_t>(p.bias_gates()) * hidden;
    if (b.layout != WeightLayout::kDense || b.shape != Shape{bias}) {
      throw Error(what + " bias '" + b.name + "' must be dense of shape [" +
                  std::to_string(bias) + "], is " + to_string(b.shape));
    }
  }
}

std::vector<Shape> shapes(const Graph& graph, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const RecurrentParams p = recurrent_params_of(node.op, node.attrs);
  const Shape& x = inputs.at(0);
  if (x.size() != 3) {
    fail_node(node, std::string("input X must be ") +
                        (p.input_batch_major ? "[batch, seq, input]"
                                             : "[seq, batch, input]") +
                        ", is " + to_string(x));
  }
  const int64_t in = graph.weights[node.weights[0]].shape[1];
  if (x[2] >= 0 && x[2] != in) {
    fail_node(node, "input X " + to_string(x) + " has " + std::to_string(x[2]) +
                        " features, the weights expect " + std::to_string(in));
  }
  const int64_t seq = p.input_batch_major ? x[1] : x[0];
  int64_t batch = p.input_batch_major ? x[0] : x[1];
  const auto dirs = static_cast<int64_t>(p.directions());
  const auto hidden = static_cast<int64_t>(p.hidden_size);
  for (size_t k = 1; k < node.inputs.size(); ++k) {
    if (node.inputs[k] == kNoValue) continue;
    const Shape& s = inputs.at(k);
    const char* name = k == 1 ? "initial_h" : "initial_c";
    const bool rank_ok = s.size() == 3 && (s[2] < 0 || s[2] == hidden);
    const int64_t rows = rank_ok ? s[p.state_batch_major ? 1 : 0] : 0;
    const int64_t min_rows = p.state_offset + dirs;
    if (!rank_ok ||
        (rows >= 0 && (p.state_batch_major ? rows != dirs : rows < min_rows))) {
      fail_node(node, std::string(name) + " must be " +
                          (p.state_batch_major
                               ? "[batch, " + std::to_string(dirs) + ", " +
                                     std::to_string(hidden) + "]"
                               : "[" + std::to_string(min_rows) + "+, batch, " +
                                     std::to_string(hidden) + "]") +
                          ", is " + to_string(s));
    }
    batch = same_dim(node, batch, p.state_batch_major ? s[0] : s[1],
                     std::string("the batch size (X and ") + name + ")");
  }
  std::vector<Shape> out(node.outputs.size());
  const Shape state = p.state_batch_major ? Shape{batch, dirs, hidden}
                                          : Shape{dirs, batch, hidden};
  for (size_t k = 0; k < out.size(); ++k) {
    if (node.outputs[k] == kNoValue) continue;
    if (k > 0) {
      out[k] = state;
    } else if (p.merged_output) {
      const int64_t width = dirs * hidden;
      out[k] = p.output_batch_major ? Shape{batch, seq, width}
                                    : Shape{seq, batch, width};
    } else {
      out[k] = p.output_batch_major ? Shape{batch, seq, dirs, hidden}
                                    : Shape{seq, dirs, batch, hidden};
    }
  }
  return out;
}

}  // namespace

extern const OpRule kLstmRule{check, shapes, create_op<RecurrentNode>,
                              OutputMemory::kOwn, /*optional_values=*/true};
extern const OpRule kGruRule{check, shapes, create_op<RecurrentNode>,
                             OutputMemory::kOwn, /*optional_values=*/true};
extern const OpRule kRnnRule{check, shapes, create_op<RecurrentNode>,
                             OutputMemory::kOwn, /*optional_values=*/true};

}  // namespace spruce
