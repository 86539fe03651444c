// ONNX ReduceMean.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_reduce_mean(const onnx::NodeProto& node) {
  NodeDef n;
  n.op = OpKind::kReduceMean;
  n.inputs = {operand(node, node.input(0))};
  const Shape xs = model_.values[n.inputs[0]].shape;
  const std::vector<int64_t> axes =
      normalized_axes(node, ints_input_or_attr(node, 1, "axes"), xs.size());
  n.attrs.set_ints("axes", axes);
  if (axes.empty() && attr_int(node, "noop_with_empty_axes", 0) != 0) {
    values_[node.output(0)] = n.inputs[0];
    return;
  }
  const bool keepdims = attr_int(node, "keepdims", 1) != 0;
  n.attrs.set_int("keepdims", keepdims);
  Shape shape;
  for (size_t d = 0; d < xs.size(); ++d) {
    const bool reduced =
        axes.empty() ||
        std::binary_search(axes.begin(), axes.end(), static_cast<int64_t>(d));
    if (!reduced) {
      shape.push_back(xs[d]);
    } else if (keepdims) {
      shape.push_back(1);
    }
  }
  add_simple(node, std::move(n), shape);
}

SPRUCE_ONNX_RULE(reduce_mean, {"ReduceMean"}, ImportRule::kNone,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
