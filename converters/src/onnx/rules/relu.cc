// ONNX Relu.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_relu(const onnx::NodeProto& node) {
  if (node.input_size() != 1) fail(node, "needs 1 input");
  if (NodeDef* target = fusable_activation_target(node.input(0))) {
    set_activation(&target->attrs, kernels::Activation::kRelu);
    report_->folded.push_back("fused Relu '" + node.name() + "' into '" +
                              target->name + "'");
    take_over_output(target, node.output(0));
    return;
  }
  const uint32_t x = value_of(node, node.input(0));
  NodeDef n;
  n.name = node.name();
  n.op = OpKind::kRelu;
  n.inputs = {x};
  n.outputs = {add_value(node.output(0), model_.values[x].shape)};
  model_.nodes.push_back(std::move(n));
}

SPRUCE_ONNX_RULE(relu, {"Relu"}, ImportRule::kElementwise,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
