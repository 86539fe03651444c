// ONNX CumSum, its axis a constant input.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_cum_sum(const onnx::NodeProto& node) {
  if (node.input_size() != 2) fail(node, "needs 2 inputs (x, axis)");
  const std::optional<std::vector<int64_t>> axis = int_values(node.input(1));
  if (!axis || axis->size() != 1) {
    fail(node, "axis must be one integer constant");
  }
  NodeDef n;
  n.op = OpKind::kCumSum;
  n.inputs = {operand(node, node.input(0))};
  const Shape xs = model_.values[n.inputs[0]].shape;
  const auto rank = static_cast<int64_t>(xs.size());
  const int64_t a = (*axis)[0] < 0 ? (*axis)[0] + rank : (*axis)[0];
  if (a < 0 || a >= rank) {
    fail(node, "axis " + std::to_string((*axis)[0]) +
                   " out of range for input " + to_string(xs));
  }
  n.attrs.set_int("axis", a);
  n.attrs.set_int("exclusive", attr_int(node, "exclusive", 0) != 0);
  n.attrs.set_int("reverse", attr_int(node, "reverse", 0) != 0);
  add_simple(node, std::move(n), xs);
}

SPRUCE_ONNX_RULE(cum_sum, {"CumSum"}, ImportRule::kNone,
                 /*weight_inputs=*/{1});

}  // namespace spruce::converters
