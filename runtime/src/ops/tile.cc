// Tile: x repeated "repeats"[d] times along each dimension d.
#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class TileNode final : public NodeOp {
 public:
  using NodeOp::NodeOp;
  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0);
    const Shape& xs = ctx.input_shape(0);
    const Shape& ys = ctx.output_shape();
    float* y = ctx.output();
    const size_t rank = xs.size();
    const size_t count = element_count(ys);
    if (rank == 0) {
      if (count == 1) y[0] = x[0];
      return;
    }
    const std::vector<size_t> x_stride = row_major_strides(xs);
    std::vector<int64_t> index(rank, 0);
    for (size_t k = 0; k < count; ++k) {
      size_t from = 0;
      for (size_t d = 0; d < rank; ++d) {
        from += static_cast<size_t>(index[d] % xs[d]) * x_stride[d];
      }
      y[k] = x[from];
      next_index(&index, ys);
    }
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

extern const OpRule kTileRule{check, shapes, create_op<TileNode>};

}  // namespace spruce
