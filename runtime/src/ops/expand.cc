// Expand: y = x broadcast to attribute "shape" (numpy rules, ONNX Expand).
// With a second input (a reference), an entry e <= -2 of "shape" is that
// input's dimension -2 - e: a size known only at run time (the batch a
// ViT's class token is expanded to).
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
  check_arity(graph, node, Arity{1, 2});
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  Shape to = node.attrs.get_ints("shape");
  for (int64_t& d : to) {
    if (d >= 0) continue;
    if (d == -1) fail_node(node, "shape has an unknown size (-1)");
    const auto dim = static_cast<size_t>(-2 - d);
    if (inputs.size() < 2 || dim >= inputs[1].size()) {
      fail_node(node, "shape entry " + std::to_string(d) +
                          " copies a dimension of no reference input");
    }
    d = inputs[1][dim];
  }
  Shape y;
  if (!broadcast_shape(x, to, &y)) {
    fail_node(node, "cannot expand " + to_string(x) + " to " + to_string(to));
  }
  return {y};
}

}  // namespace

extern const OpRule kExpandRule =
    per_image({check, shapes, create_op<ExpandNode>});

}  // namespace spruce
