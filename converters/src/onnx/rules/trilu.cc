// ONNX Trilu, its diagonal offset k a constant.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_trilu(const onnx::NodeProto& node) {
  if (node.input_size() < 1 || node.input_size() > 2) {
    fail(node, "needs 1 or 2 inputs");
  }
  NodeDef n;
  n.op = OpKind::kTrilu;
  n.inputs = {operand(node, node.input(0))};
  if (node.input_size() == 2 && !node.input(1).empty()) {
    const std::optional<std::vector<int64_t>> k = int_values(node.input(1));
    if (!k || k->size() != 1) fail(node, "k must be one integer constant");
    n.attrs.set_int("k", std::clamp<int64_t>((*k)[0], -(int64_t{1} << 40),
                                             int64_t{1} << 40));
  }
  n.attrs.set_int("upper", attr_int(node, "upper", 1) != 0);
  const Shape shape = model_.values[n.inputs[0]].shape;
  if (shape.size() < 2) fail(node, "input must have rank 2 or more");
  add_simple(node, std::move(n), shape);
}

SPRUCE_ONNX_RULE(trilu, {"Trilu"}, ImportRule::kEmptyInputs,
                 /*weight_inputs=*/{1});

}  // namespace spruce::converters
