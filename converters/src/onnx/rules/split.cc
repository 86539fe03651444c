// ONNX Split.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_split(const onnx::NodeProto& node) {
  if (node.input_size() < 1 || node.input_size() > 2) {
    fail(node, "needs 1 or 2 inputs (data[, split])");
  }
  NodeDef n;
  n.name = node.name();
  n.op = OpKind::kSplit;
  n.inputs = {operand(node, node.input(0))};
  const Shape xs = model_.values[n.inputs[0]].shape;
  const int64_t axis = axis_attr(node, "axis", 0, xs);
  n.attrs.set_int("axis", axis);
  std::vector<int64_t> sizes = ints_input_or_attr(node, 1, "split");
  const int64_t dim = xs[static_cast<size_t>(axis)];
  if (sizes.empty()) {
    const int64_t parts = node.output_size();
    if (dim < 0 || dim % parts != 0) {
      fail(node, "cannot split " + to_string(xs) + " into " +
                     std::to_string(parts) + " equal parts");
    }
    sizes.assign(static_cast<size_t>(parts), dim / parts);
  }
  if (sizes.size() != static_cast<size_t>(node.output_size())) {
    fail(node, "has " + std::to_string(sizes.size()) + " split sizes for " +
                   std::to_string(node.output_size()) + " outputs");
  }
  for (int64_t size : sizes) {
    if (size <= 0) {
      fail(node, "split size " + std::to_string(size) +
                     ": empty (zero-size) tensors are not supported");
    }
  }
  n.attrs.set_ints("split", sizes);
  for (size_t k = 0; k < sizes.size(); ++k) {
    Shape ys = xs;
    ys[static_cast<size_t>(axis)] = sizes[k];
    n.outputs.push_back(add_value(node.output(static_cast<int>(k)), ys));
  }
  model_.nodes.push_back(std::move(n));
}

SPRUCE_ONNX_RULE(split, {"Split"}, ImportRule::kEmptyInputs,
                 /*weight_inputs=*/{1});

}  // namespace spruce::converters
