// Expand: y = x broadcast to shape `ints` (numpy rules, ONNX Expand).
#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class ExpandNode final : public NodeOp {
 public:
  using NodeOp::NodeOp;
  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0);
    const Shape& xs = ctx.input_shape(0);
    broadcast_map<1>({x}, {&xs}, ctx.output_shape(), ctx.output(),
                     [](float v) { return v; });
  }
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  Shape y;
  if (!broadcast_shape(x, node.ints, &y)) {
    fail_node(node,
              "cannot expand " + to_string(x) + " to " + to_string(node.ints));
  }
  return {y};
}

}  // namespace

extern const OpRule kExpandRule{check, shapes, create_op<ExpandNode>};

}  // namespace spruce
