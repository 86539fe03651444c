// ONNX Where.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_where(const onnx::NodeProto& node) {
  if (node.input_size() != 3) fail(node, "needs 3 inputs");
  NodeDef n;
  n.op = OpKind::kWhere;
  for (int k = 0; k < 3; ++k) n.inputs.push_back(operand(node, node.input(k)));
  const Shape shape = broadcast_or_fail(node, n.inputs);
  add_simple(node, std::move(n), shape);
}

SPRUCE_ONNX_RULE(where, {"Where"}, ImportRule::kElementwise,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
