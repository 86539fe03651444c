// ONNX ConstantOfShape.
#include "onnx/importer.h"

namespace spruce::converters {

// Zeros of a shape computed from tensor shapes: a pending view that a
// consumer folds (an LSTM's zero initial state).
void Importer::import_constant_of_shape(const onnx::NodeProto& node) {
  const onnx::AttributeProto* value = attr(node, "value");
  if (value != nullptr &&
      !all_zero(constant_from_proto(value->t(), path_ + ": " + node.name()))) {
    fail(node, "only a fill value of 0 is supported");
  }
  std::optional<std::vector<int64_t>> shape = int_values(node.input(0));
  View& v = add_view(node, View::Kind::kZeros);
  if (shape) {
    v.sym = *shape;
    v.sym_known = true;
  }
}

SPRUCE_ONNX_RULE(constant_of_shape, {"ConstantOfShape"},
                 ImportRule::kBeforeFolding,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
