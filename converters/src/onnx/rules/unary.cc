// ONNX's elementwise functions of one input: each with an ONNX name in
// runtime/src/ops/unary_list.inc (Sqrt, Exp, LeakyRelu, HardSwish, ...).
#include "onnx/importer.h"

namespace spruce::converters {

namespace {

struct UnaryImport {
  UnaryOp op;
  const char* alpha_name;  // the ONNX attribute, "" for none
  float alpha_default;
  const char* beta_name;
  float beta_default;
};

// Every function of ops/unary_list.inc with an ONNX name.
const std::map<std::string, UnaryImport>& unary_imports() {
  static const std::map<std::string, UnaryImport> imports = [] {
    std::map<std::string, UnaryImport> m;
#define SPRUCE_UNARY(name, code, onnx, a_name, a_default, b_name, b_default, \
                     f)                                                      \
  if (*(onnx) != '\0') {                                                     \
    m.emplace(onnx, UnaryImport{UnaryOp::k##name, a_name, a_default, b_name, \
                                b_default});                                 \
  }
#include "ops/unary_list.inc"
#undef SPRUCE_UNARY
    return m;
  }();
  return imports;
}

std::vector<std::string> unary_op_types() {
  std::vector<std::string> types;
  for (const auto& entry : unary_imports()) types.push_back(entry.first);
  return types;
}

}  // namespace

std::optional<kernels::Activation> epilogue_activation(UnaryOp op, float alpha,
                                                       float beta) {
  switch (op) {
    case UnaryOp::kSigmoid:
      return kernels::Activation::kSigmoid;
    case UnaryOp::kTanh:
      return kernels::Activation::kTanh;
    case UnaryOp::kHardSwish:
      return kernels::Activation::kHardSwish;
    case UnaryOp::kHardSigmoid:  // PyTorch's form only
      if (std::abs(alpha - 1.0f / 6.0f) < 1e-7f && beta == 0.5f) {
        return kernels::Activation::kHardSigmoid;
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

void Importer::import_unary(const onnx::NodeProto& node) {
  if (node.input_size() != 1) fail(node, "needs 1 input");
  const UnaryImport& u = unary_imports().at(node.op_type());
  const UnaryOp op = u.op;
  if (op == UnaryOp::kGelu) {
    if (attr(node, "approximate") != nullptr &&
        attr(node, "approximate")->s() != "none") {
      fail(node, "only the exact (erf) GELU is supported");
    }
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
  // Activations the kernels' epilogue has fuse into the Conv, Linear or
  // Add before them (a Sigmoid whose input something else reads too, as in
  // SiLU, stays: Mul fuses the pair).
  const float alpha = attr_float(node, u.alpha_name, u.alpha_default);
  const float beta = attr_float(node, u.beta_name, u.beta_default);
  if (const std::optional<kernels::Activation> act =
          epilogue_activation(op, alpha, beta)) {
    if (NodeDef* target = fusable_activation_target(node.input(0))) {
      set_activation(&target->attrs, *act);
      report_->folded.push_back("fused " + node.op_type() + " '" +
                                node.name() + "' into '" + target->name + "'");
      take_over_output(target, node.output(0));
      return;
    }
  }
  NodeDef n;
  n.op = OpKind::kUnary;
  n.attrs.set_int("op", static_cast<int64_t>(op));
  if (*u.alpha_name != '\0') n.attrs.set_float("alpha", alpha);
  if (*u.beta_name != '\0') n.attrs.set_float("beta", beta);
  n.inputs = {operand(node, node.input(0))};
  const Shape shape = model_.values[n.inputs[0]].shape;
  add_simple(node, std::move(n), shape);
}

// The op types: every ONNX name in ops/unary_list.inc.
SPRUCE_ONNX_RULE(unary, unary_op_types(), ImportRule::kElementwise,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
