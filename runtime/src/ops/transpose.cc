// Transpose: y = x with dimensions permuted by attribute "perm" (y's
// dimension d is x's perm[d]).
#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class TransposeNode final : public NodeOp {
 public:
  using NodeOp::NodeOp;
  void run(RunContext& ctx) const override {
    transpose(ctx.input(0), ctx.input_shape(0), node_.attrs.get_ints("perm"),
              ctx.output());
  }
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  const std::vector<int64_t>& perm = node.attrs.get_ints("perm");
  if (perm.size() != x.size()) {
    fail_node(node, "perm has " + std::to_string(perm.size()) +
                        " entries for input " + to_string(x));
  }
  Shape y(x.size());
  std::vector<bool> seen(x.size(), false);
  for (size_t d = 0; d < x.size(); ++d) {
    const size_t from = checked_axis(node, perm[d], x.size());
    if (seen[from]) {
      fail_node(node, "perm repeats axis " + std::to_string(from));
    }
    seen[from] = true;
    y[d] = x[from];
  }
  return {y};
}

}  // namespace

extern const OpRule kTransposeRule =
    per_image({check, shapes, create_op<TransposeNode>});

}  // namespace spruce
