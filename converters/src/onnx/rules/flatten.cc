// ONNX Flatten.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_flatten(const onnx::NodeProto& node) {
  if (node.input_size() != 1) fail(node, "needs 1 input");
  const uint32_t x = value_of(node, node.input(0));
  const Shape xs = model_.values[x].shape;
  int64_t axis = attr_int(node, "axis", 1);
  const auto rank = static_cast<int64_t>(xs.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis > rank) {
    fail(node, "axis " + std::to_string(attr_int(node, "axis", 1)) +
                   " out of range for rank " + std::to_string(rank));
  }
  auto product = [&](int64_t b, int64_t e) -> int64_t {
    int64_t p = 1;
    for (int64_t k = b; k < e; ++k) {
      if (xs[k] < 0) return -1;
      p *= xs[k];
    }
    return p;
  };
  NodeDef n;
  n.name = node.name();
  n.op = OpKind::kFlatten;
  n.attrs.set_int("axis", axis);
  n.inputs = {x};
  n.outputs = {
      add_value(node.output(0), {product(0, axis), product(axis, rank)})};
  model_.nodes.push_back(std::move(n));
}

SPRUCE_ONNX_RULE(flatten, {"Flatten"}, ImportRule::kNone,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
