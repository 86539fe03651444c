// ONNX Concat.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_concat(const onnx::NodeProto& node) {
  if (node.input_size() < 1) fail(node, "needs inputs");
  NodeDef n;
  n.name = node.name();
  n.op = OpKind::kConcat;
  Shape shape;
  size_t concat_axis = 0;
  for (const std::string& in : node.input()) {
    const uint32_t v = operand(node, in);
    const Shape& s = model_.values[v].shape;
    if (n.inputs.empty()) {
      shape = s;
      const int64_t axis = axis_attr(node, "axis", 0, s);
      n.attrs.set_int("axis", axis);
      concat_axis = static_cast<size_t>(axis);
    } else if (s.size() != shape.size()) {
      fail(node, "inputs differ in rank");
    } else {
      int64_t& joined = shape[concat_axis];
      const int64_t add = s[concat_axis];
      joined = joined >= 0 && add >= 0 ? joined + add : -1;
    }
    n.inputs.push_back(v);
  }
  n.outputs = {add_value(node.output(0), shape)};
  model_.nodes.push_back(std::move(n));
}

SPRUCE_ONNX_RULE(concat, {"Concat"}, ImportRule::kNone,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
