// ONNX GatherElements.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_gather_elements(const onnx::NodeProto& node) {
  if (node.input_size() != 2) fail(node, "needs 2 inputs (data, indices)");
  if (!is_integer(dtype_of(node.input(1)))) {
    fail(node, "indices '" + node.input(1) + "' must be of an integer type");
  }
  NodeDef n;
  n.op = OpKind::kGatherElements;
  n.inputs = {operand(node, node.input(0)), operand(node, node.input(1))};
  const Shape xs = model_.values[n.inputs[0]].shape;
  n.attrs.set_int("axis", axis_attr(node, "axis", 0, xs));
  const Shape ids = model_.values[n.inputs[1]].shape;
  add_simple(node, std::move(n), ids);
}

SPRUCE_ONNX_RULE(gather_elements, {"GatherElements"}, ImportRule::kNone,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
