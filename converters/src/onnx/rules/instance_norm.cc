// ONNX InstanceNormalization, its scale and bias constants.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_instance_norm(const onnx::NodeProto& node) {
  if (node.input_size() != 3) fail(node, "needs inputs x, scale and B");
  NodeDef n;
  n.op = OpKind::kInstanceNorm;
  n.inputs = {operand(node, node.input(0))};
  const Shape xs = model_.values[n.inputs[0]].shape;
  for (int k = 1; k < 3; ++k) {
    const Constant& c = constant(node, node.input(k));
    if (!c.is_float || c.shape.size() != 1) {
      fail(node, "scale and B must be float vectors");
    }
    n.weights.push_back(add_weight(weight_name(node.input(k)), c.shape, c.f));
  }
  n.attrs.set_float("epsilon", attr_float(node, "epsilon", 1e-5f));
  add_simple(node, std::move(n), xs);
}

SPRUCE_ONNX_RULE(instance_norm, {"InstanceNormalization"}, ImportRule::kNone,
                 /*weight_inputs=*/{1, 2});

}  // namespace spruce::converters
