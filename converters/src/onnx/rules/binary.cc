// ONNX Sub, Mul, Div, Pow, Equal.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_binary(const onnx::NodeProto& node) {
  if (node.input_size() != 2) fail(node, "needs 2 inputs");
  static const std::map<std::string, BinaryOp> kOps = {
      {"Add", BinaryOp::kAdd}, {"Sub", BinaryOp::kSub},
      {"Mul", BinaryOp::kMul}, {"Div", BinaryOp::kDiv},
      {"Pow", BinaryOp::kPow}, {"Equal", BinaryOp::kEqual}};
  NodeDef n;
  n.op = OpKind::kBinary;
  n.attrs.set_int("op", static_cast<int64_t>(kOps.at(node.op_type())));
  n.inputs = {operand(node, node.input(0)), operand(node, node.input(1))};
  const Shape shape = broadcast_or_fail(node, n.inputs);
  add_simple(node, std::move(n), shape);
}

SPRUCE_ONNX_RULE(binary, {"Sub", "Mul", "Div", "Pow", "Equal"},
                 ImportRule::kNone,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
