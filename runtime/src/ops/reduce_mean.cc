// ReduceMean: the mean over `ints` (sorted axes; all if empty), each kept
// as size 1 if keepdims.
#include <algorithm>

#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class ReduceMeanNode final : public NodeOp {
 public:
  using NodeOp::NodeOp;
  void run(RunContext& ctx) const override {
    reduce_mean(ctx.input(0), ctx.input_shape(0), node_.ints, ctx.output());
  }
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  for (int64_t a : node.ints) checked_axis(node, a, x.size());
  Shape y;
  for (size_t d = 0; d < x.size(); ++d) {
    const bool reduced = node.ints.empty() ||
                         std::find(node.ints.begin(), node.ints.end(),
                                   static_cast<int64_t>(d)) != node.ints.end();
    if (!reduced) {
      y.push_back(x[d]);
    } else if (node.keepdims) {
      y.push_back(1);
    }
  }
  return {y};
}

}  // namespace

extern const OpRule kReduceMeanRule{check, shapes, create_op<ReduceMeanNode>};

}  // namespace spruce
