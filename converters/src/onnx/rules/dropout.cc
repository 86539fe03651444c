// ONNX Dropout at inference: the input itself. Training mode (random
// output) and the mask output are refused by name.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_dropout(const onnx::NodeProto& node) {
  if (node.input_size() < 1) fail(node, "needs an input");
  if (node.input_size() > 2 && !node.input(2).empty()) {
    const Constant& training = constant(node, node.input(2));
    const bool on = (!training.i.empty() && training.i[0] != 0) ||
                    (!training.f.empty() && training.f[0] != 0.0f);
    if (on) fail(node, "training mode (a random output) is not supported");
  }
  if (node.output_size() > 1 && !node.output(1).empty()) {
    fail(node, "the mask output is not supported");
  }
  values_[node.output(0)] = value_of(node, node.input(0));
  report_->folded.push_back("dropped Dropout '" + node.name() +
                            "' (the identity at inference)");
}

SPRUCE_ONNX_RULE(dropout, {"Dropout"}, ImportRule::kEmptyInputs,
                 /*weight_inputs=*/{1, 2});

}  // namespace spruce::converters
