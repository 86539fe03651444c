// ONNX Gemm.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_gemm(const onnx::NodeProto& node) {
  if (node.input_size() < 2) fail(node, "needs inputs A and B");
  if (attr_int(node, "transA", 0) != 0) {
    fail(node, "transA=1 is not supported");
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
