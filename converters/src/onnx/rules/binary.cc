// ONNX's elementwise functions of two inputs, each with an ONNX name in
// runtime/src/ops/binary_list.inc (Sub, Mul, Pow, Max, PRelu, Less, ...),
// and those built from them: Mod (by its fmod attribute) and the variadic
// Max, Min, Sum and Mean, which become a chain of Binary nodes.
#include "onnx/importer.h"

namespace spruce::converters {
namespace {

const std::map<std::string, BinaryOp>& binary_imports() {
  static const std::map<std::string, BinaryOp> imports = [] {
    std::map<std::string, BinaryOp> m;
#define SPRUCE_BINARY(name, code, onnx, f) \
  if (*(onnx) != '\0') m.emplace(onnx, BinaryOp::k##name);
#include "ops/binary_list.inc"
#undef SPRUCE_BINARY
    m.emplace("Add", BinaryOp::kAdd);  // reached from the Add rule
    m.emplace("Sum", BinaryOp::kAdd);
    m.emplace("Mean", BinaryOp::kAdd);  // then scaled by 1 / inputs
    return m;
  }();
  return imports;
}

std::vector<std::string> binary_op_types() {
  std::vector<std::string> types = {"Mod"};
  for (const auto& entry : binary_imports()) {
    if (entry.first != "Add") types.push_back(entry.first);
  }
  return types;
}

}  // namespace

// x · sigmoid(x) (SiLU) and x · hardsigmoid(x) (HardSwish, as PyTorch
// exports it below opset 14), where x comes from a Conv, Linear or Add that
// nothing else reads: the gated activation in that node's epilogue. The
// Sigmoid node is left without readers and dropped.
bool Importer::fuse_gated_activation(const onnx::NodeProto& node) {
  for (int k = 0; k < 2; ++k) {
    const std::string& x = node.input(k);
    const std::string& gate = node.input(1 - k);
    const auto g = values_.find(gate);
    if (g == values_.end() || readers_[gate] != 1 || readers_[x] != 2) {
      continue;
    }
    const NodeDef* unary = nullptr;
    for (auto n = model_.nodes.rbegin(); n != model_.nodes.rend(); ++n) {
      if (!n->outputs.empty() && n->outputs[0] == g->second) {
        unary = &*n;
        break;
      }
    }
    const auto xv = values_.find(x);
    if (unary == nullptr || unary->op != OpKind::kUnary ||
        xv == values_.end() || unary->inputs.at(0) != xv->second) {
      continue;
    }
    const auto op = static_cast<UnaryOp>(unary->attrs.get_int("op", 0));
    const std::optional<kernels::Activation> gate_act = epilogue_activation(
        op, unary->attrs.get_float("alpha", 0), unary->attrs.get_float("beta", 0));
    const kernels::Activation fused =
        gate_act == kernels::Activation::kSigmoid ? kernels::Activation::kSilu
        : gate_act == kernels::Activation::kHardSigmoid
            ? kernels::Activation::kHardSwish
            : kernels::Activation::kNone;
    if (fused == kernels::Activation::kNone) continue;
    // x's readers are the gate and this Mul: the target may take it over.
    readers_[x] = 1;
    NodeDef* target = fusable_activation_target(x);
    readers_[x] = 2;
    if (target == nullptr) continue;
    set_activation(&target->attrs, fused);
    report_->folded.push_back(
        std::string("fused ") +
        (fused == kernels::Activation::kSilu ? "SiLU" : "HardSwish") +
        " (Mul '" + node.name() + "' of x and its gate) into '" +
        target->name + "'");
    take_over_output(target, node.output(0));
    return true;
  }
  return false;
}

void Importer::import_binary(const onnx::NodeProto& node) {
  const std::string& type = node.op_type();
  const bool variadic =
      type == "Max" || type == "Min" || type == "Sum" || type == "Mean";
  if (variadic ? node.input_size() < 1 : node.input_size() != 2) {
    fail(node, variadic ? "needs inputs" : "needs 2 inputs");
  }
  BinaryOp op;
  if (type == "Mod") {
    op = attr_int(node, "fmod", 0) != 0 ? BinaryOp::kFmod : BinaryOp::kFloorMod;
  } else if (type == "Div" && is_integer(dtype_of(node.input(0))) &&
             is_integer(dtype_of(node.input(1)))) {
    op = BinaryOp::kTruncDiv;  // integers are held as float
  } else {
    op = binary_imports().at(type);
  }
  if (type == "Mul" && fuse_gated_activation(node)) return;
  if (node.input_size() == 1) {  // Max, Min, Sum or Mean of one tensor
    values_[node.output(0)] = value_of(node, node.input(0));
    return;
  }
  // PyTorch's PReLU with one slope per channel exports it as [C]: per
  // channel of x [N, C, ...] it is [C, 1, ...].
  std::string second = node.input(1);
  if (op == BinaryOp::kPRelu && is_constant(second)) {
    const std::optional<Shape> xs = shape_of(node.input(0));
    const Constant& slope = constants_.at(second);
    if (xs && xs->size() > 2 && slope.shape.size() == 1 && slope.shape[0] > 1 &&
        slope.shape[0] == (*xs)[1] && slope.shape[0] != xs->back()) {
      Constant per_channel = slope;
      per_channel.shape.resize(xs->size() - 1, 1);
      second += "/per_channel";
      constants_[second] = std::move(per_channel);
      weight_names_[second] = weight_name(node.input(1));
    }
  }
  // Inputs folded left to right; each step but the last gets a name of its
  // own.
  uint32_t acc = operand(node, node.input(0));
  for (int k = 1; k < node.input_size(); ++k) {
    NodeDef n;
    n.op = OpKind::kBinary;
    n.attrs.set_int("op", static_cast<int64_t>(op));
    n.inputs = {acc, operand(node, k == 1 ? second : node.input(k))};
    const Shape shape = broadcast_or_fail(node, n.inputs);
    const bool last = k + 1 == node.input_size() && type != "Mean";
    if (last) {
      add_simple(node, std::move(n), shape);
      return;
    }
    n.name = node.name() + "/" + std::to_string(k);
    n.outputs = {add_value(node.output(0) + "/" + std::to_string(k), shape)};
    acc = n.outputs[0];
    model_.nodes.push_back(std::move(n));
  }
  // Mean: the sum times 1 / inputs.
  const std::string scale_name = node.output(0) + "/scale";
  NodeDef scale;
  scale.op = OpKind::kConstant;
  scale.weights = {add_weight(scale_name, {1},
                              {1.0f / static_cast<float>(node.input_size())})};
  scale.name = node.name() + "/scale";
  scale.outputs = {add_value(scale_name, {1})};
  const uint32_t factor = scale.outputs[0];
  model_.nodes.push_back(std::move(scale));
  NodeDef n;
  n.op = OpKind::kBinary;
  n.attrs.set_int("op", static_cast<int64_t>(BinaryOp::kMul));
  n.inputs = {acc, factor};
  add_simple(node, std::move(n), model_.values[acc].shape);
}

SPRUCE_ONNX_RULE(binary, binary_op_types(), ImportRule::kElementwise,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
