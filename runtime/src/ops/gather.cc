// Gather: y = table[indices], rows of weight 0 ([rows, D...]); y is
// indices.shape + [D...]. An index that is not an integer in [-rows, rows)
// is refused when the run sees it.
#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class GatherNode final : public NodeOp {
 public:
  using NodeOp::NodeOp;
  void run(RunContext& ctx) const override {
    const WeightDesc& table = graph_.weights[node_.weights[0]];
    const auto rows = static_cast<size_t>(table.shape[0]);
    const size_t width = element_count(table.shape) / rows;
    gather_rows(table.values, rows, width, ctx.input(0),
                element_count(ctx.input_shape(0)), ctx.output(), node_.name);
  }
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{1, 1, 1, 1, 1});
  const Shape& table = graph.weights[node.weights[0]].shape;
  if (table.empty() || table[0] < 1) {
    throw Error(node_label(node) + " table must have at least one row, is " +
                to_string(table));
  }
}

std::vector<Shape> shapes(const Graph& graph, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  Shape y = inputs.at(0);
  const Shape& table = graph.weights[node.weights[0]].shape;
  y.insert(y.end(), table.begin() + 1, table.end());
  return {y};
}

}  // namespace

extern const OpRule kGatherRule{check, shapes, create_op<GatherNode>};

}  // namespace spruce
