// ONNX Add.
#include "onnx/importer.h"

namespace spruce::converters {

NodeDef* Importer::fusable_linear(const std::string& tensor) {
  return fusable_producer(tensor, {OpKind::kLinear});
}

// A residual connection: r becomes the Conv's second input, added in its
// epilogue before its activation (a Relu after the Add then fuses into the
// Conv too). The Conv must have neither yet, and r must be made before the
// Conv runs (an earlier value) with exactly its output's shape.
bool Importer::fuse_residual_add(const onnx::NodeProto& node) {
  for (int k : {0, 1}) {
    NodeDef* conv = fusable_producer(node.input(k), {OpKind::kConv});
    const auto r = values_.find(node.input(1 - k));
    if (conv == nullptr || r == values_.end() || conv->inputs.size() != 1 ||
        activation_of(conv->attrs) != kernels::Activation::kNone ||
        r->second >= conv->outputs[0] ||
        model_.values[r->second].shape !=
            model_.values[conv->outputs[0]].shape) {
      continue;
    }
    conv->inputs.push_back(r->second);
    report_->folded.push_back("fused residual Add '" + node.name() +
                              "' into '" + conv->name + "'");
    take_over_output(conv, node.output(0));
    return true;
  }
  return false;
}

void Importer::import_add(const onnx::NodeProto& node) {
  if (node.input_size() != 2) fail(node, "needs 2 inputs");
  const int ci = is_constant(node.input(1))   ? 1
                 : is_constant(node.input(0)) ? 0
                                              : -1;
  if (ci < 0) {
    if (fuse_residual_add(node)) return;
    return add_node(node, OpKind::kAdd);
  }
  const std::string& x = node.input(1 - ci);
  NodeDef* linear = fusable_linear(x);
  const Constant& c = constants_.at(node.input(ci));
  const int64_t out =
      linear != nullptr ? model_.weights[linear->weights[0]].shape[0] : -1;
  const bool bias_shaped =
      c.is_float &&
      (c.f.size() == 1 || (!c.shape.empty() && c.shape.back() == out &&
                           static_cast<int64_t>(c.f.size()) == out));
  if (linear == nullptr || linear->weights.size() != 1 ||
      activation_of(linear->attrs) != kernels::Activation::kNone ||
      !bias_shaped) {
    return import_binary(node);
  }
  set_bias(node, linear, constant(node, node.input(ci)), 1.0f,
           weight_name(node.input(ci)));
  report_->folded.push_back("fused bias Add '" + node.name() + "' into '" +
                            linear->name + "'");
  take_over_output(linear, node.output(0));
}

// ------------------------------------------------------------ CNN ops
// A node of `op` over the node's activation inputs, output shape from the
// runtime's rules for elementwise ops (same shape, or broadcast for Add).
void Importer::add_node(const onnx::NodeProto& node, OpKind op) {
  NodeDef n;
  n.name = node.name();
  n.op = op;
  for (const std::string& in : node.input()) {
    n.inputs.push_back(value_of(node, in));
  }
  Shape shape = model_.values[n.inputs[0]].shape;
  if (op == OpKind::kAdd &&
      !broadcast_shape(shape, model_.values[n.inputs[1]].shape, &shape)) {
    fail(node, "shapes " + to_string(model_.values[n.inputs[0]].shape) +
                   " and " + to_string(model_.values[n.inputs[1]].shape) +
                   " do not broadcast");
  }
  n.outputs = {add_value(node.output(0), shape)};
  model_.nodes.push_back(std::move(n));
}

SPRUCE_ONNX_RULE(add, {"Add"}, ImportRule::kElementwise,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
