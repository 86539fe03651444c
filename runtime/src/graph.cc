// Shape rules of each op and helpers on graph descriptions.
#include "graph.h"

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
  }
  return "?";
}

const char* activation_name(kernels::Activation activation) {
  switch (activation) {
    case kernels::Activation::kNone:
      return "";
    case kernels::Activation::kRelu:
      return "relu";
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

}  // namespace

Shape infer_output_shape(const Graph& graph, const NodeDesc& node,
                         const std::vector<Shape>& inputs) {
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
      return y;
    }
    case OpKind::kRelu:
      return x;
    case OpKind::kFlatten: {
      if (node.axis < 0 || static_cast<size_t>(node.axis) > x.size()) {
        fail(node, "axis " + std::to_string(node.axis) +
                       " out of range for input " + to_string(x));
      }
      const auto axis = static_cast<size_t>(node.axis);
      return {product_or_unknown(x, 0, axis),
              product_or_unknown(x, axis, x.size())};
    }
  }
  fail(node, "unknown op");
}

}  // namespace spruce
