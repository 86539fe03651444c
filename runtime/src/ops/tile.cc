// Tile: x repeated "repeats"[d] times along each dimension d.
#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class TileNode final : public NodeOp {
 public:
  using NodeOp::NodeOp;
  void run(RunContext& ctx) const override {
    const Shape& xs = ctx.input_shape(0);
    copy_by_dimension(ctx.input(0), xs, ctx.output(), ctx.output_shape(), 0.0f,
                      [&](size_t d, int64_t i) { return i % xs[d]; });
  }
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
  for (int64_t r : node.attrs.get_ints("repeats")) {
    if (r < 1 || r > (int64_t{1} << 20)) {
      throw Error(node_label(node) + " repeats " + std::to_string(r) +
                  " times (allowed 1 to 2^20)");
    }
  }
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  const std::vector<int64_t>& repeats = node.attrs.get_ints("repeats");
  if (repeats.size() != x.size()) {
    fail_node(node, "has " + std::to_string(repeats.size()) +
                        " repeats for input " + to_string(x));
  }
  Shape y = x;
  for (size_t d = 0; d < x.size(); ++d) {
    if (x[d] == 0) fail_node(node, "cannot tile an empty dimension");
    if (x[d] > 0) y[d] = x[d] * repeats[d];
  }
  return {y};
}

}  // namespace

extern const OpRule kTileRule = per_image({check, shapes, create_op<TileNode>});

}  // namespace spruce
