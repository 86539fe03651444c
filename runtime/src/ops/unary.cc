// Unary: y = f(x) elementwise, f the UnaryOp (elementwise_ops.h) in
// attribute "op"; in place when the plan allows.
#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class UnaryNode final : public NodeOp {
 public:
  explicit UnaryNode(const OpInit& init)
      : NodeOp(init), op_(op_of(init.node)) {}
  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0);
    unary(op_, x, element_count(ctx.output_shape()), ctx.output());
  }
  static UnaryOp op_of(const NodeDesc& node) {
    return static_cast<UnaryOp>(node.attrs.get_int_in("op", 0, 0, kMaxUnaryOp));
  }

 private:
  UnaryOp op_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
  UnaryNode::op_of(node);
}

}  // namespace

extern const OpRule kUnaryRule{check, same_shape, create_op<UnaryNode>,
                               OutputMemory::kInPlace};

}  // namespace spruce
