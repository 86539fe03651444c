// ONNX Gemm: a Linear when B is a constant (the weight), else the product of
// two activations on the MatMul op.
#include "onnx/importer.h"

namespace spruce::converters {

namespace {

// The name of one more value made while importing `node`.
std::string step_name(const onnx::NodeProto& node, const char* step) {
  return node.output(0) + "/" + step;
}

}  // namespace

// Y = alpha · A' · B' + beta · C of activations: A' and B' transposed as
// asked, on the MatMul op, then scaled and C added.
void Importer::gemm_of_activations(const onnx::NodeProto& node) {
  auto operand_2d = [&](int k, bool transposed, const char* step) {
    uint32_t v = operand(node, node.input(k));
    const Shape s = model_.values[v].shape;
    if (s.size() != 2) {
      fail(node,
           "operands must be 2-D, " + node.input(k) + " is " + to_string(s));
    }
    if (!transposed) return v;
    NodeDef t;
    t.name = step_name(node, step);
    t.op = OpKind::kTranspose;
    t.inputs = {v};
    t.attrs.set_ints("perm", {1, 0});
    const uint32_t transposed_value =
        add_value(step_name(node, step), {s[1], s[0]});
    t.outputs = {transposed_value};
    model_.nodes.push_back(std::move(t));
    return transposed_value;
  };
  const uint32_t a = operand_2d(0, attr_int(node, "transA", 0) != 0, "a_t");
  const uint32_t b = operand_2d(1, attr_int(node, "transB", 0) != 0, "b_t");
  const Shape& as = model_.values[a].shape;
  const Shape& bs = model_.values[b].shape;
  if (as[1] >= 0 && bs[0] >= 0 && as[1] != bs[0]) {
    fail(node, "inner dimensions of " + to_string(as) + " and " +
                   to_string(bs) + " differ");
  }
  const Shape ys = {as[0], bs[1]};
  const float alpha = attr_float(node, "alpha", 1.0f);
  const float beta = attr_float(node, "beta", 1.0f);
  const bool has_c = node.input_size() > 2 && !node.input(2).empty();
  // Each step writes the final output name when it is the last.
  auto emit = [&](NodeDef n, const char* step, bool last, const Shape& shape) {
    n.name = last ? node.name() : step_name(node, step);
    n.outputs = {
        add_value(last ? node.output(0) : step_name(node, step), shape)};
    model_.nodes.push_back(std::move(n));
    return model_.nodes.back().outputs[0];
  };
  auto scaled = [&](uint32_t v, float factor, const char* step, bool last) {
    const std::string name = step_name(node, step) + "_factor";
    constants_[name] = Constant{{1}, true, {factor}, {}};
    NodeDef n;
    n.op = OpKind::kBinary;
    n.attrs.set_int("op", static_cast<int64_t>(BinaryOp::kMul));
    n.inputs = {v, operand(node, name)};
    const Shape shape = model_.values[v].shape;
    return emit(std::move(n), step, last, shape);
  };
  NodeDef mm;
  mm.op = OpKind::kMatMul;
  mm.inputs = {a, b};
  uint32_t y = emit(std::move(mm), "ab", alpha == 1.0f && !has_c, ys);
  if (alpha != 1.0f) y = scaled(y, alpha, "alpha_ab", !has_c);
  if (!has_c) return;
  uint32_t c = operand(node, node.input(2));
  if (beta != 1.0f) c = scaled(c, beta, "beta_c", false);
  NodeDef add;
  add.op = OpKind::kBinary;
  add.attrs.set_int("op", static_cast<int64_t>(BinaryOp::kAdd));
  add.inputs = {y, c};
  Shape broadcast;
  if (!broadcast_shape(ys, model_.values[c].shape, &broadcast) ||
      broadcast != ys) {
    fail(node, "C of shape " + to_string(model_.values[c].shape) +
                   " does not broadcast to " + to_string(ys));
  }
  emit(std::move(add), "sum", true, ys);
}

void Importer::import_gemm(const onnx::NodeProto& node) {
  if (node.input_size() < 2) fail(node, "needs inputs A and B");
  if (!is_constant(node.input(1)) || attr_int(node, "transA", 0) != 0) {
    return gemm_of_activations(node);
  }
  const uint32_t x = value_of(node, node.input(0));
  if (model_.values[x].shape.size() != 2) {
    fail(node, "input A must be 2-D, is " + to_string(model_.values[x].shape));
  }
  const Constant& b = constant(node, node.input(1));
  if (b.shape.size() != 2 || !b.is_float) {
    fail(node, "weight B must be a 2-D float constant");
  }
  const float alpha = attr_float(node, "alpha", 1.0f);
  const float beta = attr_float(node, "beta", 1.0f);
  const bool trans_b = attr_int(node, "transB", 0) != 0;
  const int64_t out = trans_b ? b.shape[0] : b.shape[1];
  const int64_t in = trans_b ? b.shape[1] : b.shape[0];
  std::vector<float> w(b.f.size());
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in; ++i) {
      const float v = trans_b ? b.f[o * in + i] : b.f[i * out + o];
      w[o * in + i] = alpha * v;
    }
  }
  add_linear(node, x, std::move(w), out, in, weight_name(node.input(1)));
  if (node.input_size() > 2 && !node.input(2).empty()) {
    set_bias(node, &model_.nodes.back(), constant(node, node.input(2)), beta,
             weight_name(node.input(2)));
  }
}

SPRUCE_ONNX_RULE(gemm, {"Gemm"}, ImportRule::kEmptyInputs,
                 /*weight_inputs=*/{1, 2});

}  // namespace spruce::converters
