// ONNX Softmax, LogSoftmax and Hardmax.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_softmax(const onnx::NodeProto& node) {
  if (node.input_size() != 1) fail(node, "needs 1 input");
  NodeDef n;
  n.op = OpKind::kSoftmax;
  n.inputs = {operand(node, node.input(0))};
  const Shape xs = model_.values[n.inputs[0]].shape;
  const bool coerce_2d = opset_ < 13;
  n.attrs.set_int("coerce_2d", coerce_2d);
  const int64_t axis = axis_attr(node, "axis", coerce_2d ? 1 : -1, xs);
  n.attrs.set_int("axis", axis);
  if (node.op_type() != "Softmax") {
    n.attrs.set_int("kind", node.op_type() == "LogSoftmax" ? 1 : 2);
  }
  add_simple(node, std::move(n), xs);
}

SPRUCE_ONNX_RULE(softmax, {"Softmax", "LogSoftmax", "Hardmax"},
                 ImportRule::kNone,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
