// Unary: y = f(x) elementwise (unary_op), in place when the plan allows.
#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class UnaryNode final : public NodeOp {
 public:
  using NodeOp::NodeOp;
  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0);
    unary(node_.unary_op, x, element_count(ctx.output_shape()), ctx.output());
  }
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
}

}  // namespace

extern const OpRule kUnaryRule{check, same_shape, create_op<UnaryNode>,
                               OutputMemory::kInPlace};

}  // namespace spruce
