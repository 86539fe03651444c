// Split: x cut along attribute "axis" into parts of sizes "split", one per
// output.
#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class SplitNode final : public NodeOp {
 public:
  using NodeOp::NodeOp;
  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0);
    std::vector<float*> outs;
    for (size_t k = 0; k < node_.outputs.size(); ++k) {
      outs.push_back(ctx.output(k));
    }
    split(x, ctx.input_shape(0),
          static_cast<size_t>(node_.attrs.get_int("axis", 0)),
          node_.attrs.get_ints("split"), outs);
  }
};

void check(const Graph& graph, const NodeDesc& node) {
  Arity arity;
  arity.outputs = node.attrs.get_ints("split").size();
  check_arity(graph, node, arity);
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  const size_t axis =
      checked_axis(node, node.attrs.get_int("axis", 0), x.size());
  int64_t total = 0;
  std::vector<Shape> out;
  for (int64_t size : node.attrs.get_ints("split")) {
    if (size <= 0) fail_node(node, "split sizes must be positive");
    total += size;
    Shape y = x;
    y[axis] = size;
    out.push_back(y);
  }
  if (x[axis] >= 0 && total != x[axis]) {
    fail_node(node, "splits sum to " + std::to_string(total) + ", input " +
                        to_string(x) + " has " + std::to_string(x[axis]));
  }
  return out;
}

}  // namespace

extern const OpRule kSplitRule =
    per_image({check, shapes, create_op<SplitNode>});

}  // namespace spruce
