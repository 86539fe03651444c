// ONNX Dropout at inference: the input itself. Training mode with a ratio
// above 0 (random output) and a mask output that is read are refused by name.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_dropout(const onnx::NodeProto& node) {
  if (node.input_size() < 1) fail(node, "needs an input");
  if (node.input_size() > 2 && !node.input(2).empty()) {
    const Constant& training = constant(node, node.input(2));
    const bool on = (!training.i.empty() && training.i[0] != 0) ||
                    (!training.f.empty() && training.f[0] != 0.0f);
    // A ratio of 0 drops nothing, in training mode too (torchvision's Swin
    // calls F.dropout(attn, p=0.0) with training left on). ONNX's default
    // ratio is 0.5.
    bool drops = true;
    if (!node.input(1).empty()) {
      const Constant& ratio = constant(node, node.input(1));
      drops = ratio.is_float ? ratio.f.empty() || ratio.f[0] != 0.0f
                             : ratio.i.empty() || ratio.i[0] != 0;
    }
    if (on && drops) {
      fail(node, "training mode (a random output) is not supported");
    }
  }
  // The mask output is accepted when nothing reads it (PyTorch names it).
  if (node.output_size() > 1 && !node.output(1).empty() &&
      readers_.count(node.output(1)) != 0) {
    fail(node, "the mask output is not supported");
  }
  values_[node.output(0)] = value_of(node, node.input(0));
  report_->folded.push_back("dropped Dropout '" + node.name() +
                            "' (the identity at inference)");
}

SPRUCE_ONNX_RULE(dropout, {"Dropout"}, ImportRule::kEmptyInputs,
                 /*weight_inputs=*/{1, 2});

}  // namespace spruce::converters
