// Transpose: y = x with dimensions permuted by `ints` (y's dimension d is
// x's ints[d]).
#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class TransposeNode final : public NodeOp {
 public:
  using NodeOp::NodeOp;
  void run(RunContext& ctx) const override {
    transpose(ctx.input(0), ctx.input_shape(0), node_.ints, ctx.output());
  }
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  if (node.ints.size() != x.size()) {
    fail_node(node, "perm has " + std::to_string(node.ints.size()) +
                        " entries for input " + to_string(x));
  }
  Shape y(x.size());
  std::vector<bool> seen(x.size(), false);
  for (size_t d = 0; d < x.size(); ++d) {
    const size_t from = checked_axis(node, node.ints[d], x.size());
    if (seen[from]) {
      fail_node(node, "perm repeats axis " + std::to_string(from));
    }
    seen[from] = true;
    y[d] = x[from];
  }
  return {y};
}

}  // namespace

extern const OpRule kTransposeRule{check, shapes, create_op<TransposeNode>};

}  // namespace spruce
