// ONNX ScatterND, ScatterElements and the deprecated Scatter (which is
// ScatterElements without a reduction).
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_scatter(const onnx::NodeProto& node) {
  if (node.input_size() != 3) {
    fail(node, "needs 3 inputs (data, indices, updates)");
  }
  if (!is_integer(dtype_of(node.input(1)))) {
    fail(node, "indices '" + node.input(1) + "' must be of an integer type");
  }
  const bool nd = node.op_type() == "ScatterND";
  const onnx::AttributeProto* r = attr(node, "reduction");
  const std::string reduction = r != nullptr ? r->s() : "none";
  static const char* const kReductions[] = {"none", "add", "mul", "max", "min"};
  const auto code =
      std::find(std::begin(kReductions), std::end(kReductions), reduction) -
      std::begin(kReductions);
  if (code == static_cast<std::ptrdiff_t>(std::size(kReductions))) {
    fail(node, "reduction '" + reduction + "' is not supported");
  }
  NodeDef n;
  n.op = OpKind::kScatter;
  n.inputs = {operand(node, node.input(0)), operand(node, node.input(1)),
              operand(node, node.input(2))};
  const Shape xs = model_.values[n.inputs[0]].shape;
  if (!nd) {
    n.attrs.set_int("elements", 1);
    n.attrs.set_int("axis", axis_attr(node, "axis", 0, xs));
  }
  if (code != 0) n.attrs.set_int("reduction", code);
  add_simple(node, std::move(n), xs);
}

SPRUCE_ONNX_RULE(scatter, {"ScatterND", "ScatterElements", "Scatter"},
                 ImportRule::kNone, /*weight_inputs=*/{});

}  // namespace spruce::converters
