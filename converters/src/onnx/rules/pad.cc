// ONNX Pad.
#include "onnx/importer.h"

namespace spruce::converters {

// PyTorch 1.13 puts a Pad before every AvgPool2d, zeros when the pool has
// no padding: that one is the identity. Other pads are refused.
void Importer::import_pad(const onnx::NodeProto& node) {
  if (node.input_size() < 2) fail(node, "needs data and pads inputs");
  const onnx::AttributeProto* mode = attr(node, "mode");
  const Constant& pads = constant(node, node.input(1));
  const bool zero = std::all_of(pads.i.begin(), pads.i.end(),
                                [](int64_t v) { return v == 0; }) &&
                    std::all_of(pads.f.begin(), pads.f.end(),
                                [](float v) { return v == 0.0f; });
  if (!zero || (mode != nullptr && mode->s() != "constant")) {
    fail(node, "only a Pad that adds nothing is supported (pads " +
                   std::string(zero ? "zero" : "non-zero") + ")");
  }
  values_[node.output(0)] = value_of(node, node.input(0));
  report_->folded.push_back("dropped Pad '" + node.name() +
                            "' (pads are all zero)");
}

SPRUCE_ONNX_RULE(pad, {"Pad"}, ImportRule::kEmptyInputs,
                 /*weight_inputs=*/{1, 2, 3});

}  // namespace spruce::converters
