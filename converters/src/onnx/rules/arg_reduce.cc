// ONNX ArgMax and ArgMin.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_arg_reduce(const onnx::NodeProto& node) {
  if (node.input_size() != 1) fail(node, "needs 1 input");
  NodeDef n;
  n.op = OpKind::kArgReduce;
  n.inputs = {operand(node, node.input(0))};
  const Shape xs = model_.values[n.inputs[0]].shape;
  const int64_t axis = axis_attr(node, "axis", 0, xs);
  const bool keepdims = attr_int(node, "keepdims", 1) != 0;
  n.attrs.set_int("axis", axis);
  n.attrs.set_int("keepdims", keepdims);
  n.attrs.set_int("min", node.op_type() == "ArgMin");
  n.attrs.set_int("select_last_index",
                  attr_int(node, "select_last_index", 0) != 0);
  Shape ys;
  for (size_t d = 0; d < xs.size(); ++d) {
    if (d != static_cast<size_t>(axis)) {
      ys.push_back(xs[d]);
    } else if (keepdims) {
      ys.push_back(1);
    }
  }
  add_simple(node, std::move(n), ys);
}

SPRUCE_ONNX_RULE(arg_reduce, {"ArgMax", "ArgMin"}, ImportRule::kNone,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
