// Shape rules of each op and helpers on graph descriptions.
#include "graph.h"

#include <algorithm>

#include "spruce/error.h"
#include "spruce/sparse_matrix.h"

namespace spruce {

const char* op_name(OpKind op) {
  switch (op) {
    case OpKind::kLinear:
      return "Linear";
    case OpKind::kRelu:
      return "Relu";
    case OpKind::kFlatten:
      return "Flatten";
    case OpKind::kLstm:
      return "LSTM";
    case OpKind::kConcat:
      return "Concat";
    case OpKind::kConv:
      return "Conv";
    case OpKind::kMaxPool:
      return "MaxPool";
    case OpKind::kAveragePool:
      return "AveragePool";
    case OpKind::kGlobalAveragePool:
      return "GlobalAveragePool";
    case OpKind::kAdd:
      return "Add";
    case OpKind::kClip:
      return "Clip";
  }
  return "?";
}

const char* activation_name(kernels::Activation activation) {
  switch (activation) {
    case kernels::Activation::kNone:
      return "";
    case kernels::Activation::kRelu:
      return "relu";
    case kernels::Activation::kRelu6:
      return "relu6";
    case kernels::Activation::kGelu:
      return "gelu";
    case kernels::Activation::kSigmoid:
      return "sigmoid";
    case kernels::Activation::kTanh:
      return "tanh";
  }
  return "?";
}

size_t WeightDesc::dense_count() const { return element_count(shape); }

double WeightDesc::sparsity() const {
  const size_t total = dense_count();
  if (total == 0) return 0.0;
  size_t nonzero = 0;
  for (size_t i = 0; i < value_count; ++i) nonzero += values[i] != 0.0f;
  return 1.0 - static_cast<double>(nonzero) / static_cast<double>(total);
}

std::vector<float> WeightDesc::to_dense() const {
  switch (layout) {
    case WeightLayout::kCsr:
      return spruce::to_dense(csr);
    case WeightLayout::kBsr:
      return spruce::to_dense(bsr);
    case WeightLayout::kDense:
      break;
  }
  return std::vector<float>(values, values + value_count);
}

namespace {

[[noreturn]] void fail(const NodeDesc& node, const std::string& message) {
  throw Error(std::string(op_name(node.op)) + " node '" + node.name +
              "': " + message);
}

int64_t product_or_unknown(const Shape& shape, size_t begin, size_t end) {
  int64_t product = 1;
  for (size_t i = begin; i < end; ++i) {
    if (shape[i] < 0) return -1;
    product *= shape[i];
  }
  return product;
}

// The size two tensors agree on for one dimension (-1: unknown).
int64_t same_dim(const NodeDesc& node, int64_t a, int64_t b,
                 const std::string& what) {
  if (a >= 0 && b >= 0 && a != b) {
    fail(node, what + " is " + std::to_string(a) + " in one input and " +
                   std::to_string(b) + " in another");
  }
  return a >= 0 ? a : b;
}

std::vector<Shape> lstm_shapes(const Graph& graph, const NodeDesc& node,
                               const std::vector<Shape>& inputs) {
  const LstmParams& p = node.lstm;
  const Shape& x = inputs.at(0);
  if (x.size() != 3) {
    fail(node, std::string("input X must be ") +
                   (p.input_batch_major ? "[batch, seq, input]"
                                        : "[seq, batch, input]") +
                   ", is " + to_string(x));
  }
  const int64_t in = graph.weights[node.weights[0]].shape[1];
  if (x[2] >= 0 && x[2] != in) {
    fail(node, "input X " + to_string(x) + " has " + std::to_string(x[2]) +
                   " features, the weights expect " + std::to_string(in));
  }
  const int64_t seq = p.input_batch_major ? x[1] : x[0];
  int64_t batch = p.input_batch_major ? x[0] : x[1];
  const auto dirs = static_cast<int64_t>(p.directions());
  const auto hidden = static_cast<int64_t>(p.hidden_size);
  for (size_t k = 1; k < 3 && k < node.inputs.size(); ++k) {
    if (node.inputs[k] == kNoValue) continue;
    const Shape& s = inputs.at(k);
    const char* name = k == 1 ? "initial_h" : "initial_c";
    const bool rank_ok = s.size() == 3 && (s[2] < 0 || s[2] == hidden);
    const int64_t rows = rank_ok ? s[p.state_batch_major ? 1 : 0] : 0;
    const int64_t min_rows = p.state_offset + dirs;
    if (!rank_ok || (rows >= 0 && (p.state_batch_major ? rows != dirs
                                                        : rows < min_rows))) {
      fail(node, std::string(name) + " must be " +
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

Shape concat_shape(const NodeDesc& node, const std::vector<Shape>& inputs) {
  const Shape& first = inputs.at(0);
  if (node.axis < 0 || static_cast<size_t>(node.axis) >= first.size()) {
    fail(node, "axis " + std::to_string(node.axis) +
                   " out of range for input " + to_string(first));
  }
  const auto axis = static_cast<size_t>(node.axis);
  Shape y = first;
  for (size_t k = 1; k < inputs.size(); ++k) {
    const Shape& s = inputs[k];
    if (s.size() != first.size()) {
      fail(node, "inputs " + to_string(first) + " and " + to_string(s) +
                     " differ in rank");
    }
    for (size_t d = 0; d < s.size(); ++d) {
      if (d == axis) {
        y[d] = y[d] >= 0 && s[d] >= 0 ? y[d] + s[d] : -1;
      } else {
        y[d] = same_dim(node, y[d], s[d], "dimension " + std::to_string(d));
      }
    }
  }
  return y;
}

// NCHW windows: Conv (with its weight) and the pools.
Shape spatial_shape(const Graph& graph, const NodeDesc& node, const Shape& x) {
  if (x.size() != 4) {
    fail(node, "input must be NCHW [N, C, H, W], is " + to_string(x));
  }
  const SpatialParams& p = node.spatial;
  int64_t channels = x[1];
  if (node.op == OpKind::kConv) {
    const WeightDesc& w = graph.weights[node.weights[0]];
    const int64_t per_group = w.shape[1] / (int64_t{p.kernel[0]} * p.kernel[1]);
    if (x[1] >= 0 && x[1] != per_group * p.group) {
      fail(node, "input " + to_string(x) + " has " + std::to_string(x[1]) +
                     " channels, weight '" + w.name + "' expects " +
                     std::to_string(per_group * p.group));
    }
    channels = w.shape[0];
  }
  Shape y = {x[0], channels, p.output_size(0, x[2]), p.output_size(1, x[3])};
  if ((x[2] >= 0 && y[2] < 1) || (x[3] >= 0 && y[3] < 1)) {
    fail(node, "input " + to_string(x) + " is smaller than one " +
                   std::to_string(p.kernel[0]) + "x" +
                   std::to_string(p.kernel[1]) + " window");
  }
  return y;
}

}  // namespace

std::vector<Shape> infer_output_shapes(const Graph& graph,
                                       const NodeDesc& node,
                                       const std::vector<Shape>& inputs) {
  if (node.op == OpKind::kLstm) return lstm_shapes(graph, node, inputs);
  if (node.op == OpKind::kConcat) return {concat_shape(node, inputs)};
  const Shape& x = inputs.at(0);
  switch (node.op) {
    case OpKind::kLinear: {
      const WeightDesc& w = graph.weights[node.weights[0]];
      if (x.empty()) fail(node, "input is a scalar, expected [..., features]");
      const int64_t in = w.shape[1];
      if (x.back() >= 0 && x.back() != in) {
        fail(node, "input " + to_string(x) + " has " +
                       std::to_string(x.back()) + " features, weight '" +
                       w.name + "' expects " + std::to_string(in));
      }
      Shape y = x;
      y.back() = w.shape[0];
      return {y};
    }
    case OpKind::kRelu:
    case OpKind::kClip:
      return {x};
    case OpKind::kConv:
    case OpKind::kMaxPool:
    case OpKind::kAveragePool:
      return {spatial_shape(graph, node, x)};
    case OpKind::kGlobalAveragePool:
      if (x.size() != 4) {
        fail(node, "input must be NCHW [N, C, H, W], is " + to_string(x));
      }
      return {{x[0], x[1], 1, 1}};
    case OpKind::kAdd:
    {
      Shape y;
      if (!broadcast_shape(x, inputs.at(1), &y)) {
        fail(node, "shapes " + to_string(x) + " and " +
                       to_string(inputs.at(1)) + " do not broadcast");
      }
      return {y};
    }
    case OpKind::kFlatten: {
      if (node.axis < 0 || static_cast<size_t>(node.axis) > x.size()) {
        fail(node, "axis " + std::to_string(node.axis) +
                       " out of range for input " + to_string(x));
      }
      const auto axis = static_cast<size_t>(node.axis);
      return {{product_or_unknown(x, 0, axis),
               product_or_unknown(x, axis, x.size())}};
    }
    case OpKind::kLstm:
    case OpKind::kConcat:
      break;
  }
  fail(node, "unknown op");
}

}  // namespace spruce
