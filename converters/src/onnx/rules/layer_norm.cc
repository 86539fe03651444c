// ONNX LayerNormalization.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_layer_norm(const onnx::NodeProto& node) {
  if (node.input_size() < 2) fail(node, "needs X and Scale");
  NodeDef n;
  n.op = OpKind::kLayerNorm;
  n.inputs = {operand(node, node.input(0))};
  const Shape xs = model_.values[n.inputs[0]].shape;
  const int64_t axis = axis_attr(node, "axis", -1, xs);
  const float epsilon = attr_float(node, "epsilon", 1e-5f);
  n.attrs.set_int("axis", axis);
  n.attrs.set_float("epsilon", epsilon);
  int64_t inner = 1;
  for (size_t d = static_cast<size_t>(axis); d < xs.size(); ++d) {
    inner = known_product(node, inner, xs[d]);
  }
  for (int k = 1; k < 3 && k < node.input_size(); ++k) {
    if (node.input(k).empty()) continue;
    const Constant& c = constant(node, node.input(k));
    std::vector<float> data = c.f;
    if (!c.is_float) fail(node, "scale and bias must be float");
    if (data.size() == 1 && inner > 1) {
      data.assign(static_cast<size_t>(inner), data[0]);
    }
    if (inner > 0 && data.size() != static_cast<size_t>(inner)) {
      fail(node, "scale/bias of " + std::to_string(data.size()) +
                     " values for " + std::to_string(inner) +
                     " normalized values");
    }
    const auto size = static_cast<int64_t>(data.size());
    n.weights.push_back(
        add_weight(weight_name(node.input(k)), {size}, std::move(data)));
  }
  const uint32_t x = n.inputs[0];
  add_simple(node, std::move(n), xs);
  layer_norm_statistics(node, x, static_cast<size_t>(axis), epsilon);
}

// LayerNormalization's optional outputs Mean and InvStdDev, when the graph
// reads them, built from ops spruce has: ReduceMean(X) over the normalized
// axes, and 1 / sqrt(ReduceMean((X - Mean)²) + epsilon).
void Importer::layer_norm_statistics(const onnx::NodeProto& node, uint32_t x,
                                     size_t axis, float epsilon) {
  auto wanted = [&](int k) {
    return node.output_size() > k && !node.output(k).empty() &&
           readers_[node.output(k)] > 0;
  };
  if (!wanted(1) && !wanted(2)) return;
  const Shape xs = model_.values[x].shape;
  Shape stat = xs;
  std::vector<int64_t> axes;
  for (size_t d = axis; d < xs.size(); ++d) {
    stat[d] = 1;
    axes.push_back(static_cast<int64_t>(d));
  }
  const std::string base = node.output(0) + "/";
  auto add = [&](const std::string& name, NodeDef n, const Shape& shape) {
    n.name = name;
    const uint32_t id = add_value(name, shape);
    n.outputs = {id};
    model_.nodes.push_back(std::move(n));
    return id;
  };
  auto reduce = [&](const std::string& name, uint32_t in) {
    NodeDef n;
    n.op = OpKind::kReduce;
    n.inputs = {in};
    n.attrs.set_ints("axes", axes);
    n.attrs.set_int("keepdims", 1);
    return add(name, std::move(n), stat);
  };
  auto binary = [&](const std::string& name, BinaryOp op, uint32_t a,
                    uint32_t b, const Shape& shape) {
    NodeDef n;
    n.op = OpKind::kBinary;
    n.attrs.set_int("op", static_cast<int64_t>(op));
    n.inputs = {a, b};
    return add(name, std::move(n), shape);
  };
  auto unary = [&](const std::string& name, UnaryOp op, uint32_t in) {
    NodeDef n;
    n.op = OpKind::kUnary;
    n.attrs.set_int("op", static_cast<int64_t>(op));
    n.inputs = {in};
    return add(name, std::move(n), stat);
  };
  const uint32_t mean = reduce(wanted(1) ? node.output(1) : base + "mean", x);
  if (!wanted(2)) return;
  const uint32_t centered =
      binary(base + "centered", BinaryOp::kSub, x, mean, xs);
  const uint32_t squared =
      binary(base + "squared", BinaryOp::kMul, centered, centered, xs);
  const uint32_t variance = reduce(base + "variance", squared);
  NodeDef eps;
  eps.op = OpKind::kConstant;
  eps.weights = {add_weight(base + "epsilon", {1}, {epsilon})};
  const uint32_t eps_value = add(base + "epsilon", std::move(eps), {1});
  const uint32_t shifted =
      binary(base + "variance_eps", BinaryOp::kAdd, variance, eps_value, stat);
  unary(node.output(2), UnaryOp::kReciprocal,
        unary(base + "std", UnaryOp::kSqrt, shifted));
}

SPRUCE_ONNX_RULE(layer_norm, {"LayerNormalization"}, ImportRule::kEmptyInputs,
                 /*weight_inputs=*/{1, 2});

}  // namespace spruce::converters
