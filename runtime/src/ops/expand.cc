// Expand: y = x broadcast to attribute "shape" (numpy rules, ONNX Expand).
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
  const Shape& to = node.attrs.get_ints("shape");
  Shape y;
  if (!broadcast_shape(x, to, &y)) {
    fail_node(node, "cannot expand " + to_string(x) + " to " + to_string(to));
  }
  return {y};
}

}  // namespace

extern const OpRule kExpandRule{check, shapes, create_op<ExpandNode>};

}  // namespace spruce
