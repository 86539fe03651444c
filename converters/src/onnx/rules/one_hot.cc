// ONNX OneHot: depth and the [off, on] values are constants.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_one_hot(const onnx::NodeProto& node) {
  if (node.input_size() != 3) {
    fail(node, "needs 3 inputs (indices, depth, values)");
  }
  const std::optional<std::vector<int64_t>> depth = int_values(node.input(1));
  const Constant& values = constant(node, node.input(2));
  const std::vector<float> off_on =
      values.is_float ? values.f
                      : std::vector<float>(values.i.begin(), values.i.end());
  if (!depth || depth->size() != 1 || (*depth)[0] < 1) {
    fail(node, "depth must be one constant integer of at least 1");
  }
  if (off_on.size() != 2) fail(node, "values must be [off, on]");
  NodeDef n;
  n.op = OpKind::kOneHot;
  n.inputs = {operand(node, node.input(0))};
  Shape ys = model_.values[n.inputs[0]].shape;
  const int64_t axis = axis_attr(node, "axis", -1, Shape(ys.size() + 1, 1));
  n.attrs.set_int("axis", axis);
  n.attrs.set_int("depth", (*depth)[0]);
  n.attrs.set_float("off", off_on[0]);
  n.attrs.set_float("on", off_on[1]);
  ys.insert(ys.begin() + axis, (*depth)[0]);
  add_simple(node, std::move(n), ys);
}

SPRUCE_ONNX_RULE(one_hot, {"OneHot"}, ImportRule::kNone,
                 /*weight_inputs=*/{1, 2});

}  // namespace spruce::converters
