// ONNX Expand.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_expand(const onnx::NodeProto& node) {
  if (node.input_size() != 2) fail(node, "needs 2 inputs");
  const std::optional<std::vector<int64_t>> target = int_values(node.input(1));
  if (!target || std::any_of(target->begin(), target->end(),
                             [](int64_t d) { return d == 0 || d == -1; })) {
    fail(node,
         "the target shape must be known at conversion or be sizes of an "
         "input");
  }
  NodeDef n;
  n.op = OpKind::kExpand;
  n.inputs = {operand(node, node.input(0))};
  // Dynamic sizes (a batch) are read from the input they come from.
  std::vector<int64_t> dims = *target;
  const uint32_t ref = symbols_as_dims(node, &dims);
  if (ref != kNoValue) n.inputs.push_back(ref);
  n.attrs.set_ints("shape", dims);
  Shape shape;
  if (!broadcast_shape(model_.values[n.inputs[0]].shape, *target, &shape)) {
    fail(node, "cannot expand " + to_string(model_.values[n.inputs[0]].shape) +
                   " to " + to_string(*target));
  }
  add_simple(node, std::move(n), shape);
}

SPRUCE_ONNX_RULE(expand, {"Expand"}, ImportRule::kNone,
                 /*weight_inputs=*/{1});

}  // namespace spruce::converters
