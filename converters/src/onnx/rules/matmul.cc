// ONNX MatMul.
#include "onnx/importer.h"

namespace spruce::converters {

bool Importer::is_constant_2d(const std::string& name) const {
  return is_constant(name) && constants_.at(name).shape.size() == 2 &&
         constants_.at(name).is_float;
}

void Importer::import_matmul(const onnx::NodeProto& node) {
  if (node.input_size() != 2) fail(node, "needs 2 inputs");
  const bool activation_x =
      values_.count(node.input(0)) != 0 || views_.count(node.input(0)) != 0;
  if (!is_constant_2d(node.input(1)) || !activation_x) {
    NodeDef n;
    n.op = OpKind::kMatMul;
    n.inputs = {operand(node, node.input(0)), operand(node, node.input(1))};
    const Shape& a = model_.values[n.inputs[0]].shape;
    const Shape& b = model_.values[n.inputs[1]].shape;
    if (a.size() < 2 || b.size() < 2) {
      fail(node, "operands of rank 1 are not supported (shapes " +
                     to_string(a) + " and " + to_string(b) + ")");
    }
    Shape shape;
    if (!broadcast_shape(Shape(a.begin(), a.end() - 2),
                         Shape(b.begin(), b.end() - 2), &shape)) {
      fail(node, "batch dimensions of " + to_string(a) + " and " +
                     to_string(b) + " do not broadcast");
    }
    if (a.back() >= 0 && b[b.size() - 2] >= 0 && a.back() != b[b.size() - 2]) {
      fail(node, "inner dimensions of " + to_string(a) + " and " +
                     to_string(b) + " differ");
    }
    shape.push_back(a[a.size() - 2]);
    shape.push_back(b.back());
    return add_simple(node, std::move(n), shape);
  }
  const uint32_t x = value_of(node, node.input(0));
  const Constant& b = constant(node, node.input(1));
  if (b.shape.size() != 2 || !b.is_float) {
    fail(node, "weight must be a 2-D float constant, is " + to_string(b.shape));
  }
  const int64_t in = b.shape[0];
  const int64_t out = b.shape[1];
  std::vector<float> w(b.f.size());
  for (int64_t i = 0; i < in; ++i) {
    for (int64_t o = 0; o < out; ++o) w[o * in + i] = b.f[i * out + o];
  }
  add_linear(node, x, std::move(w), out, in, weight_name(node.input(1)));
}

SPRUCE_ONNX_RULE(matmul, {"MatMul"}, ImportRule::kNone,
                 /*weight_inputs=*/{1});

}  // namespace spruce::converters
