// ONNX NegativeLogLikelihoodLoss, and SoftmaxCrossEntropyLoss as
// LogSoftmax over the classes then the same loss.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_nll_loss(const onnx::NodeProto& node) {
  const bool softmax = node.op_type() == "SoftmaxCrossEntropyLoss";
  if (node.input_size() < 2 || node.input_size() > 3) {
    fail(node, "needs 2 or 3 inputs (input, target[, weight])");
  }
  if (!is_integer(dtype_of(node.input(1)))) {
    fail(node, "target '" + node.input(1) + "' must be of an integer type");
  }
  const onnx::AttributeProto* reduction = attr(node, "reduction");
  const std::string r = reduction != nullptr ? reduction->s() : "mean";
  if (r != "none" && r != "sum" && r != "mean") {
    fail(node, "unknown reduction '" + r + "'");
  }
  uint32_t x = operand(node, node.input(0));
  const Shape xs = model_.values[x].shape;
  if (xs.size() < 2)
    fail(node, "input " + to_string(xs) + " needs [N, C, ...]");
  if (softmax) {
    NodeDef log_softmax;
    log_softmax.name = node.name() + "/log_softmax";
    log_softmax.op = OpKind::kSoftmax;
    log_softmax.inputs = {x};
    log_softmax.attrs.set_int("axis", 1);
    log_softmax.attrs.set_int("kind", 1);
    const bool named = node.output_size() > 1 && !node.output(1).empty();
    x = add_value(named ? node.output(1) : node.output(0) + "/log_prob", xs);
    log_softmax.outputs = {x};
    model_.nodes.push_back(std::move(log_softmax));
  }
  NodeDef n;
  n.op = OpKind::kNllLoss;
  n.inputs = {x, operand(node, node.input(1))};
  if (node.input_size() > 2 && !node.input(2).empty()) {
    n.inputs.push_back(operand(node, node.input(2)));
  }
  n.attrs.set_int("reduction", r == "none" ? 0 : r == "sum" ? 1 : 2);
  if (attr(node, "ignore_index") != nullptr) {
    n.attrs.set_int("has_ignore_index", 1);
    n.attrs.set_int("ignore_index", attr_int(node, "ignore_index", 0));
  }
  Shape ys;
  if (r == "none") {
    ys = model_.values[n.inputs[1]].shape;
  }
  add_simple(node, std::move(n), ys);
}

SPRUCE_ONNX_RULE(nll_loss,
                 {"NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"},
                 ImportRule::kEmptyInputs, /*weight_inputs=*/{});

}  // namespace spruce::converters
