// ONNX Clip.
#include "onnx/importer.h"

namespace spruce::converters {

// Clip(x, min, max): bounds from inputs (opset 11+) or attributes (6-10);
// an absent bound is unbounded. Clip(0, 6) after a Conv, Linear or Add is
// fused as ReLU6.
void Importer::import_clip(const onnx::NodeProto& node) {
  if (node.input_size() < 1 || node.input(0).empty()) {
    fail(node, "needs input");
  }
  float lo = attr_float(node, "min", -std::numeric_limits<float>::infinity());
  float hi = attr_float(node, "max", std::numeric_limits<float>::infinity());
  for (int k = 1; k < node.input_size() && k < 3; ++k) {
    if (node.input(k).empty()) continue;
    const Constant& c = constant(node, node.input(k));
    if (!c.is_float || c.f.size() != 1) {
      fail(node,
           std::string(k == 1 ? "min" : "max") + " must be a float scalar");
    }
    (k == 1 ? lo : hi) = c.f[0];
  }
  if (!(lo <= hi)) {
    fail(node,
         "min " + std::to_string(lo) + " is above max " + std::to_string(hi));
  }
  if (lo == 0.0f && hi == 6.0f) {
    if (NodeDef* target = fusable_activation_target(node.input(0))) {
      set_activation(&target->attrs, kernels::Activation::kRelu6);
      report_->folded.push_back("fused Clip(0, 6) '" + node.name() +
                                "' into '" + target->name + "'");
      take_over_output(target, node.output(0));
      return;
    }
  }
  const uint32_t x = value_of(node, node.input(0));
  NodeDef n;
  n.name = node.name();
  n.op = OpKind::kClip;
  n.inputs = {x};
  n.attrs.set_float("min", lo);
  n.attrs.set_float("max", hi);
  n.outputs = {add_value(node.output(0), model_.values[x].shape)};
  model_.nodes.push_back(std::move(n));
}

SPRUCE_ONNX_RULE(clip, {"Clip"}, ImportRule::kEmptyInputs,
                 /*weight_inputs=*/{1, 2});

}  // namespace spruce::converters
