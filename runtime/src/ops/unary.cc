// Unary: y = f(x) elementwise, f the UnaryOp (ops/unary_list.inc) in
// attribute "op" with its parameters "alpha" and "beta" (floats, defaults
// from the list); in its input's layout, in place when the plan allows.
#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

struct UnaryParams {
  UnaryOp op;
  float alpha;
  float beta;
};

UnaryParams params_of(const Attributes& attrs) {
  const int64_t code = attrs.get_int("op", 0);
  if (!is_unary_op(code)) {
    throw Error("unknown unary function " + std::to_string(code) +
                " (written by a newer spruce?)");
  }
  UnaryParams p{static_cast<UnaryOp>(code), 0.0f, 0.0f};
  switch (p.op) {
#define SPRUCE_UNARY(name, code, onnx, a_name, a_default, b_name, b_default, \
                     f)                                                      \
  case UnaryOp::k##name:                                                     \
    p.alpha = a_default;                                                     \
    p.beta = b_default;                                                      \
    break;
#include "ops/unary_list.inc"
#undef SPRUCE_UNARY
  }
  p.alpha = attrs.get_float("alpha", p.alpha);
  p.beta = attrs.get_float("beta", p.beta);
  return p;
}

class UnaryNode final : public NodeOp {
 public:
  explicit UnaryNode(const OpInit& init)
      : NodeOp(init), p_(params_of(init.node.attrs)) {}
  // Elementwise: in whatever layout its input is (channels-last between
  // convolutions costs no reorder).
  void plan_layouts(LayoutPlanner& planner) override {
    planner.set_layout(node_.outputs[0], planner.layout(node_.inputs[0]));
  }
  bool follows_input_layout() const override { return true; }
  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0, ctx.output_layout());
    unary(p_.op, p_.alpha, p_.beta, x, element_count(ctx.output_shape()),
          ctx.output());
  }

 private:
  UnaryParams p_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
  params_of(node.attrs);
}

}  // namespace

extern const OpRule kUnaryRule = per_image(
    {check, same_shape, create_op<UnaryNode>, OutputMemory::kInPlace});

}  // namespace spruce
