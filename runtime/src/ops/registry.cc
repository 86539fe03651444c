// The op table generated from op_list.inc, and the helpers the op files
// share.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ops/op.h"
#include "ops/op_kind.h"
#include "spruce/engine.h"
#include "spruce/error.h"

namespace spruce {

#define SPRUCE_OP(name, code, display) extern const OpRule k##name##Rule;
#include "ops/op_list.inc"
#undef SPRUCE_OP

const char* op_name(OpKind op) {
  switch (op) {
#define SPRUCE_OP(name, code, display) \
  case OpKind::k##name:                \
    return display;
#include "ops/op_list.inc"
#undef SPRUCE_OP
  }
  return "?";
}

std::optional<OpKind> op_from_code(uint16_t code) {
  switch (code) {
#define SPRUCE_OP(name, code, display) \
  case code:                           \
    return OpKind::k##name;
#include "ops/op_list.inc"
#undef SPRUCE_OP
    default:
      return std::nullopt;
  }
}

const OpRule& op_rule(OpKind op) {
  switch (op) {
#define SPRUCE_OP(name, code, display) \
  case OpKind::k##name:                \
    return k##name##Rule;
#include "ops/op_list.inc"
#undef SPRUCE_OP
  }
  throw Error("internal: op " + std::to_string(static_cast<int>(op)) +
              " has no rule");
}

std::string node_label(const NodeDesc& node) {
  return std::string(op_name(node.op)) + " node '" + node.name + "'";
}

std::string number_text(float v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", static_cast<double>(v));
  return text;
}

size_t checked_index(const NodeDesc& node, float v, int64_t n,
                     size_t position) {
  if (!(v == std::floor(v)) || v < static_cast<float>(-n) ||
      v >= static_cast<float>(n)) {
    fail_node(node, "index " + number_text(v) + " at position " +
                        std::to_string(position) + " is outside [" +
                        std::to_string(-n) + ", " + std::to_string(n) + ")");
  }
  const auto i = static_cast<int64_t>(v);
  return static_cast<size_t>(i < 0 ? i + n : i);
}

std::string labeled(const NodeDesc& node, const std::string& message) {
  const std::string label = node_label(node);
  if (message.compare(0, label.size(), label) == 0) return message;
  return label + ": " + message;
}

void fail_node(const NodeDesc& node, const std::string& message) {
  throw Error(node_label(node) + ": " + message);
}

void check_arity(const Graph& graph, const NodeDesc& node, const Arity& a) {
  const std::string what = node_label(node);
  auto range = [](size_t lo, size_t hi) {
    return lo == hi ? std::to_string(lo)
                    : std::to_string(lo) + " to " + std::to_string(hi);
  };
  if (node.inputs.size() < a.min_inputs || node.inputs.size() > a.max_inputs) {
    throw Error(what + " needs " + range(a.min_inputs, a.max_inputs) +
                " input(s), has " + std::to_string(node.inputs.size()));
  }
  if (node.outputs.size() != a.outputs || a.outputs == 0) {
    throw Error(what + " needs " + std::to_string(a.outputs) +
                " output(s), has " + std::to_string(node.outputs.size()));
  }
  if (node.weights.size() < a.min_weights ||
      node.weights.size() > a.max_weights) {
    throw Error(what +
                (a.max_weights == 0
                     ? " takes no weights, has "
                     : " needs " + range(a.min_weights, a.max_weights) +
                           " weight(s), has ") +
                std::to_string(node.weights.size()));
  }
  if (!a.dense_weights) return;
  for (uint32_t w : node.weights) {
    if (graph.weights[w].layout != WeightLayout::kDense) {
      throw Error(what + " weight '" + graph.weights[w].name +
                  "' must be dense");
    }
  }
}

int64_t product_or_unknown(const Shape& shape, size_t begin, size_t end) {
  int64_t product = 1;
  for (size_t i = begin; i < end; ++i) {
    if (shape[i] < 0) return -1;
    product *= shape[i];
  }
  return product;
}

int64_t same_dim(const NodeDesc& node, int64_t a, int64_t b,
                 const std::string& what) {
  if (a >= 0 && b >= 0 && a != b) {
    fail_node(node, what + " is " + std::to_string(a) + " in one input and " +
                        std::to_string(b) + " in another");
  }
  return a >= 0 ? a : b;
}

size_t checked_axis(const NodeDesc& node, int64_t axis, size_t rank) {
  if (axis < 0 || static_cast<size_t>(axis) >= rank) {
    fail_node(node, "axis " + std::to_string(axis) + " out of range for rank " +
                        std::to_string(rank));
  }
  return static_cast<size_t>(axis);
}

Shape broadcast_all(const NodeDesc& node, const std::vector<Shape>& inputs) {
  Shape y = inputs.at(0);
  for (size_t k = 1; k < inputs.size(); ++k) {
    if (!broadcast_shape(y, inputs[k], &y)) {
      fail_node(node, "shapes " + to_string(inputs[0]) + " and " +
                          to_string(inputs[k]) + " do not broadcast");
    }
  }
  return y;
}

Shape window_output_shape(const NodeDesc& node, const SpatialParams& p,
                          const Shape& x, int64_t channels) {
  if (x.size() != 2 + p.rank) {
    fail_node(node, "input " + to_string(x) + " needs " +
                        std::to_string(p.rank) + " spatial dimensions");
  }
  Shape y = {x[0], channels};
  std::string window;
  for (uint32_t a = 0; a < p.rank; ++a) {
    y.push_back(p.output_size(static_cast<int>(a), x[2 + a]));
    window += (a > 0 ? "x" : "") + std::to_string(p.kernel[a]);
  }
  for (uint32_t a = 0; a < p.rank; ++a) {
    if (x[2 + a] >= 0 && y[2 + a] < 1) {
      fail_node(node, "input " + to_string(x) + " is smaller than one " +
                          window + " window");
    }
  }
  return y;
}

void check_optional_bias(const Graph& graph, const NodeDesc& node,
                         int64_t size) {
  if (node.weights.size() < 2) return;
  const WeightDesc& b = graph.weights[node.weights[1]];
  if (b.layout != WeightLayout::kDense || b.shape != Shape{size}) {
    throw Error(node_label(node) + " bias '" + b.name +
                "' must be dense of shape [" + std::to_string(size) + "], is " +
                to_string(b.shape));
  }
}

const char* storage_name(WeightLayout layout) {
  switch (layout) {
    case WeightLayout::kCsr:
      return "csr";
    case WeightLayout::kBsr:
      return "bsr";
    case WeightLayout::kDense:
      break;
  }
  return "dense";
}

void describe_weights(const Graph& graph, const NodeDesc& node,
                      LayerInfo* info) {
  const WeightDesc& w = graph.weights[node.weights[0]];
  info->storage = storage_name(w.layout);
  info->weight_shape = w.shape;
  info->sparsity = w.sparsity();
  if (w.layout == WeightLayout::kCsr) {
    info->index_bits = static_cast<int>(w.csr.index_width);
  } else if (w.layout == WeightLayout::kBsr) {
    info->index_bits = static_cast<int>(w.bsr.index_width);
    info->block_shape = std::to_string(w.bsr.block_rows) + "x" +
                        std::to_string(w.bsr.block_cols);
  }
  for (uint32_t wi : node.weights) {
    info->stored_bytes += graph.weights[wi].stored_bytes;
    info->dense_bytes += graph.weights[wi].dense_count() * sizeof(float);
  }
}

std::vector<Shape> same_shape(const Graph& /*graph*/, const NodeDesc& /*node*/,
                              const std::vector<Shape>& inputs) {
  return {inputs.at(0)};
}

}  // namespace spruce
