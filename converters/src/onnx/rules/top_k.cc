// ONNX TopK: K from its input (opset 10 on) or attribute, largest or
// smallest, along any axis; always sorted (what sorted = 0 allows too).
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_top_k(const onnx::NodeProto& node) {
  if (node.input_size() < 1 || node.output_size() != 2) {
    fail(node, "needs an input and 2 outputs (values, indices)");
  }
  int64_t k = attr_int(node, "k", 0);
  if (node.input_size() > 1) {
    const std::optional<std::vector<int64_t>> v = int_values(node.input(1));
    if (!v || v->size() != 1) fail(node, "K must be one constant integer");
    k = (*v)[0];
  }
  NodeDef n;
  n.name = node.name();
  n.op = OpKind::kTopK;
  n.inputs = {operand(node, node.input(0))};
  const Shape xs = model_.values[n.inputs[0]].shape;
  const int64_t axis = axis_attr(node, "axis", -1, xs);
  if (k < 1 || (xs[static_cast<size_t>(axis)] >= 0 &&
                k > xs[static_cast<size_t>(axis)])) {
    fail(node, "K " + std::to_string(k) + " is not in [1, " +
                   std::to_string(xs[static_cast<size_t>(axis)]) + "]");
  }
  n.attrs.set_int("axis", axis);
  n.attrs.set_int("k", k);
  n.attrs.set_int("smallest", attr_int(node, "largest", 1) == 0);
  Shape ys = xs;
  ys[static_cast<size_t>(axis)] = k;
  for (int o = 0; o < 2; ++o) {
    n.outputs.push_back(add_value(node.output(o), ys));
  }
  model_.nodes.push_back(std::move(n));
}

SPRUCE_ONNX_RULE(top_k, {"TopK"}, ImportRule::kNone, /*weight_inputs=*/{1});

}  // namespace spruce::converters
