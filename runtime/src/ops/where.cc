// Where: y = cond ? a : b (inputs cond, a, b), numpy broadcasting.
#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class WhereNode final : public NodeOp {
 public:
  using NodeOp::NodeOp;
  void run(RunContext& ctx) const override {
    const float* c = ctx.input(0);
    const float* a = ctx.input(1);
    const float* b = ctx.input(2);
    where(c, ctx.input_shape(0), a, ctx.input_shape(1), b, ctx.input_shape(2),
          ctx.output(), ctx.output_shape());
  }
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{3, 3});
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  return {broadcast_all(node, inputs)};
}

}  // namespace

extern const OpRule kWhereRule =
    per_image({check, shapes, create_op<WhereNode>});

}  // namespace spruce
