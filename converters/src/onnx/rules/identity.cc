// ONNX Identity.
#include "onnx/importer.h"

namespace spruce::converters {

// The input under another name.
void Importer::import_identity(const onnx::NodeProto& node) {
  if (node.input_size() != 1) fail(node, "needs 1 input");
  values_[node.output(0)] = value_of(node, node.input(0));
}

SPRUCE_ONNX_RULE(identity, {"Identity"}, ImportRule::kNone,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
