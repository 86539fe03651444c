// ONNX Sqrt, Erf, Tanh, Exp, Sigmoid, Neg, Abs, Reciprocal, Gelu.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_unary(const onnx::NodeProto& node) {
  if (node.input_size() != 1) fail(node, "needs 1 input");
  static const std::map<std::string, UnaryOp> kOps = {
      {"Sqrt", UnaryOp::kSqrt},       {"Erf", UnaryOp::kErf},
      {"Tanh", UnaryOp::kTanh},       {"Exp", UnaryOp::kExp},
      {"Sigmoid", UnaryOp::kSigmoid}, {"Neg", UnaryOp::kNeg},
      {"Abs", UnaryOp::kAbs},         {"Reciprocal", UnaryOp::kReciprocal},
      {"Gelu", UnaryOp::kGelu}};
  const UnaryOp op = kOps.at(node.op_type());
  if (op == UnaryOp::kGelu) {
    NodeDef* linear = fusable_producer(node.input(0), {OpKind::kLinear});
    if (linear != nullptr &&
        activation_of(linear->attrs) == kernels::Activation::kNone) {
      set_activation(&linear->attrs, kernels::Activation::kGelu);
      report_->folded.push_back("fused GELU '" + node.name() + "' into '" +
                                linear->name + "'");
      take_over_output(linear, node.output(0));
      return;
    }
  }
  NodeDef n;
  n.op = OpKind::kUnary;
  n.attrs.set_int("op", static_cast<int64_t>(op));
  n.inputs = {operand(node, node.input(0))};
  const Shape shape = model_.values[n.inputs[0]].shape;
  add_simple(node, std::move(n), shape);
}

SPRUCE_ONNX_RULE(unary,
                 {"Sqrt", "Erf", "Tanh", "Exp", "Sigmoid", "Neg", "Abs",
                  "Reciprocal", "Gelu"},
                 ImportRule::kNone,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
