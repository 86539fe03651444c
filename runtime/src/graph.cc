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
    case OpKind::kGather:
      return "Gather";
    case OpKind::kBinary:
      return "Binary";
    case OpKind::kUnary:
      return "Unary";
    case OpKind::kReduceMean:
      return "ReduceMean";
    case OpKind::kLayerNorm:
      return "LayerNorm";
    case OpKind::kSoftmax:
      return "Softmax";
    case OpKind::kMatMul:
      return "MatMul";
    case OpKind::kTranspose:
      return "Transpose";
    case OpKind::kReshape:
      return "Reshape";
    case OpKind::kWhere:
      return "Where";
    case OpKind::kSlice:
      return "Slice";
    case OpKind::kSplit:
      return "Split";
    case OpKind::kExpand:
      return "Expand";
    case OpKind::kConstant:
      return "Constant";
  }
  return "?";
}

const char* binary_op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
      return "Add";
    case BinaryOp::kSub:
      return "Sub";
    case BinaryOp::kMul:
      return "Mul";
    case BinaryOp::kDiv:
      return "Div";
    case BinaryOp::kPow:
      return "Pow";
    case BinaryOp::kEqual:
      return "Equal";
  }
  return "?";
}

const char* unary_op_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::kSqrt:
      return "Sqrt";
    case UnaryOp::kErf:
      return "Erf";
    case UnaryOp::kTanh:
      return "Tanh";
    case UnaryOp::kGelu:
      return "Gelu";
    case UnaryOp::kExp:
      return "Exp";
    case UnaryOp::kSigmoid:
      return "Sigmoid";
    case UnaryOp::kNeg:
      return "Neg";
    case UnaryOp::kAbs:
      return "Abs";
    case UnaryOp::kCastBool:
      return "CastBool";
    case UnaryOp::kTrunc:
      return "Trunc";
    case UnaryOp::kReciprocal:
      return "Reciprocal";
  }
  return "?";
}

std::vector<SliceDim> resolve_slice(const NodeDesc& node, const Shape& x,
                                    const Shape* ref) {
  std::vector<SliceDim> dims;
  for (size_t k = 0; k + 3 < node.ints.size(); k += 4) {
    SliceDim d;
    d.axis = node.ints[k];
    int64_t start = node.ints[k + 1];
    int64_t end = node.ints[k + 2];
    d.step = node.ints[k + 3];
    const int32_t end_dim = node.end_dims[k / 4];
    if (end_dim >= 0) {
      if (ref == nullptr || static_cast<size_t>(end_dim) >= ref->size()) {
        throw Error("Slice node '" + node.name +
                    "': end refers to a missing "
                    "dimension");
      }
      end = (*ref)[static_cast<size_t>(end_dim)];
      if (end < 0) return {};  // unknown until run time
    }
    if (d.axis < 0 || static_cast<size_t>(d.axis) >= x.size() || d.step == 0) {
      throw Error("Slice node '" + node.name + "': axis " +
                  std::to_string(d.axis) + " or step " +
                  std::to_string(d.step) + " invalid for input " +
                  to_string(x));
    }
    const int64_t n = x[static_cast<size_t>(d.axis)];
    if (n < 0) return {};
    // ONNX's clamping rules.
    if (start < 0) start += n;
    if (end < 0) end += n;
    if (d.step > 0) {
      start = std::clamp<int64_t>(start, 0, n);
      end = std::clamp<int64_t>(end, 0, n);
      d.size = end > start ? (end - start + d.step - 1) / d.step : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, n - 1);
      end = std::clamp<int64_t>(end, -1, n - 1);
      d.size = start > end ? (start - end - d.step - 1) / -d.step : 0;
    }
    d.start = start;
    dims.push_back(d);
  }
  return dims;
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
    if (!rank_ok ||
        (rows >= 0 && (p.state_batch_major ? rows != dirs : rows < min_rows))) {
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

// Numpy broadcasting of every input (Binary, Where, Expand).
Shape broadcast_all(const NodeDesc& node, const std::vector<Shape>& inputs) {
  Shape y = inputs.at(0);
  for (size_t k = 1; k < inputs.size(); ++k) {
    if (!broadcast_shape(y, inputs[k], &y)) {
      fail(node, "shapes " + to_string(inputs[0]) + " and " +
                     to_string(inputs[k]) + " do not broadcast");
    }
  }
  return y;
}

size_t checked_axis(const NodeDesc& node, int64_t axis, size_t rank) {
  if (axis < 0 || static_cast<size_t>(axis) >= rank) {
    fail(node, "axis " + std::to_string(axis) + " out of range for rank " +
                   std::to_string(rank));
  }
  return static_cast<size_t>(axis);
}

Shape reshape_shape(const NodeDesc& node, const Shape& x) {
  Shape y(node.ints.size());
  int64_t known = 1;
  size_t infer = node.ints.size();
  bool unknown = false;
  for (size_t i = 0; i < node.ints.size(); ++i) {
    int64_t d = node.ints[i];
    if (d <= -2) {  // copies input dimension -d - 2
      const int64_t from = -d - 2;
      if (from >= static_cast<int64_t>(x.size())) {
        fail(node, "copies dimension " + std::to_string(from) +
                       " of an input of rank " + std::to_string(x.size()));
      }
      d = x[static_cast<size_t>(from)];
      if (d < 0) {
        unknown = true;
        y[i] = -1;
        continue;
      }
    } else if (d == 0) {
      fail(node, "a dimension of size 0 is not supported");
    }
    if (d == -1) {
      if (infer != node.ints.size()) fail(node, "two dimensions to infer");
      infer = i;
    } else if (__builtin_mul_overflow(known, d, &known) ||
               known > (int64_t{1} << 62)) {
      // A hostile file's sizes; real ones are bounded far below.
      fail(node, "sizes multiply past 2^62");
    }
    y[i] = d;
  }
  const int64_t total = product_or_unknown(x, 0, x.size());
  if (infer < y.size()) {
    if (total < 0 || unknown) {
      y[infer] = -1;
    } else if (known == 0 || total % known != 0) {
      fail(node, "cannot reshape " + to_string(x) + " into " + to_string(y));
    } else {
      y[infer] = total / known;
    }
  } else if (total >= 0 && !unknown && total != known) {
    fail(node, "cannot reshape " + to_string(x) + " (" + std::to_string(total) +
                   " elements) into " + to_string(y));
  }
  return y;
}

Shape matmul_shape(const NodeDesc& node, const Shape& a, const Shape& b) {
  if (a.size() < 2 || b.size() < 2) {
    fail(node, "operands must have rank 2 or more, are " + to_string(a) +
                   " and " + to_string(b));
  }
  const int64_t k =
      same_dim(node, a.back(), b[b.size() - 2], "the inner dimension");
  (void)k;
  Shape batch;
  if (!broadcast_shape(Shape(a.begin(), a.end() - 2),
                       Shape(b.begin(), b.end() - 2), &batch)) {
    fail(node, "batch dimensions of " + to_string(a) + " and " + to_string(b) +
                   " do not broadcast");
  }
  batch.push_back(a[a.size() - 2]);
  batch.push_back(b.back());
  return batch;
}

std::vector<Shape> tensor_op_shapes(const Graph& graph, const NodeDesc& node,
                                    const std::vector<Shape>& inputs) {
  if (node.op == OpKind::kConstant) {
    return {graph.weights[node.weights[0]].shape};
  }
  const Shape& x = inputs.at(0);
  switch (node.op) {
    case OpKind::kGather: {
      // indices' shape, then each row's: table [rows, d1, ...] → x + [d1, ...]
      Shape y = x;
      const Shape& table = graph.weights[node.weights[0]].shape;
      y.insert(y.end(), table.begin() + 1, table.end());
      return {y};
    }
    case OpKind::kBinary:
    case OpKind::kWhere:
      return {broadcast_all(node, inputs)};
    case OpKind::kUnary:
    case OpKind::kSoftmax:
      if (node.op == OpKind::kSoftmax) checked_axis(node, node.axis, x.size());
      return {x};
    case OpKind::kReduceMean: {
      Shape y;
      for (size_t d = 0; d < x.size(); ++d) {
        const bool reduced =
            node.ints.empty() ||
            std::find(node.ints.begin(), node.ints.end(),
                      static_cast<int64_t>(d)) != node.ints.end();
        if (!reduced) {
          y.push_back(x[d]);
        } else if (node.keepdims) {
          y.push_back(1);
        }
      }
      for (int64_t a : node.ints) checked_axis(node, a, x.size());
      return {y};
    }
    case OpKind::kLayerNorm: {
      const size_t axis = checked_axis(node, node.axis, x.size());
      const int64_t inner = product_or_unknown(x, axis, x.size());
      for (uint32_t w : node.weights) {
        const auto count = static_cast<int64_t>(graph.weights[w].value_count);
        if (inner >= 0 && count != inner) {
          fail(node, "normalizes " + std::to_string(inner) +
                         " values, weight '" + graph.weights[w].name +
                         "' has " + std::to_string(count));
        }
      }
      return {x};
    }
    case OpKind::kMatMul:
      return {matmul_shape(node, x, inputs.at(1))};
    case OpKind::kTranspose: {
      if (node.ints.size() != x.size()) {
        fail(node, "perm has " + std::to_string(node.ints.size()) +
                       " entries for input " + to_string(x));
      }
      Shape y(x.size());
      std::vector<bool> seen(x.size(), false);
      for (size_t d = 0; d < x.size(); ++d) {
        const size_t from = checked_axis(node, node.ints[d], x.size());
        if (seen[from]) fail(node, "perm repeats axis " + std::to_string(from));
        seen[from] = true;
        y[d] = x[from];
      }
      return {y};
    }
    case OpKind::kReshape:
      return {reshape_shape(node, x)};
    case OpKind::kSlice: {
      const Shape* ref = inputs.size() > 1 ? &inputs[1] : nullptr;
      Shape y = x;
      const std::vector<SliceDim> dims = resolve_slice(node, x, ref);
      if (dims.empty()) {
        for (size_t k = 0; k < node.ints.size(); k += 4) {
          y[checked_axis(node, node.ints[k], x.size())] = -1;
        }
      }
      for (const SliceDim& d : dims) {
        if (d.size == 0) fail(node, "slice of " + to_string(x) + " is empty");
        y[static_cast<size_t>(d.axis)] = d.size;
      }
      return {y};
    }
    case OpKind::kSplit: {
      const size_t axis = checked_axis(node, node.axis, x.size());
      int64_t total = 0;
      std::vector<Shape> out;
      for (int64_t size : node.ints) {
        if (size <= 0) fail(node, "split sizes must be positive");
        total += size;
        Shape y = x;
        y[axis] = size;
        out.push_back(y);
      }
      if (x[axis] >= 0 && total != x[axis]) {
        fail(node, "splits sum to " + std::to_string(total) + ", input " +
                       to_string(x) + " has " + std::to_string(x[axis]));
      }
      return out;
    }
    case OpKind::kExpand: {
      Shape y;
      if (!broadcast_shape(x, node.ints, &y)) {
        fail(node,
             "cannot expand " + to_string(x) + " to " + to_string(node.ints));
      }
      return {y};
    }
    default:
      break;
  }
  fail(node, "unknown op");
}

}  // namespace

std::vector<Shape> infer_output_shapes(const Graph& graph, const NodeDesc& node,
                                       const std::vector<Shape>& inputs) {
  if (node.op == OpKind::kLstm) return lstm_shapes(graph, node, inputs);
  if (node.op == OpKind::kConcat) return {concat_shape(node, inputs)};
  if (node.op >= OpKind::kGather) return tensor_op_shapes(graph, node, inputs);
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
    case OpKind::kAdd: {
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
    default:
      break;
  }
  fail(node, "unknown op");
}

}  // namespace spruce
