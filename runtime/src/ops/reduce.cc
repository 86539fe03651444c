// Reduce: the reduction "op" (ops/reduce_list.inc; default the mean) over
// attribute "axes" (sorted; all if empty), each kept as size 1 if
// "keepdims" (default 1).
#include <algorithm>

#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

ReduceOp op_of(const Attributes& attrs) {
  const int64_t code = attrs.get_int("op", 0);
  if (!is_reduce_op(code)) {
    throw Error("unknown reduction " + std::to_string(code) +
                " (written by a newer spruce?)");
  }
  return static_cast<ReduceOp>(code);
}

class ReduceNode final : public NodeOp {
 public:
  explicit ReduceNode(const OpInit& init)
      : NodeOp(init), op_(op_of(init.node.attrs)) {}
  void run(RunContext& ctx) const override {
    reduce(op_, ctx.input(0), ctx.input_shape(0), node_.attrs.get_ints("axes"),
           ctx.output());
  }

 private:
  ReduceOp op_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
  op_of(node.attrs);
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  const std::vector<int64_t>& axes = node.attrs.get_ints("axes");
  const bool keepdims = node.attrs.get_int("keepdims", 1) != 0;
  for (int64_t a : axes) checked_axis(node, a, x.size());
  Shape y;
  for (size_t d = 0; d < x.size(); ++d) {
    const bool reduced =
        axes.empty() || std::find(axes.begin(), axes.end(),
                                  static_cast<int64_t>(d)) != axes.end();
    if (!reduced) {
      y.push_back(x[d]);
    } else if (keepdims) {
      y.push_back(1);
    }
  }
  return {y};
}

}  // namespace

extern const OpRule kReduceRule =
    per_image({check, shapes, create_op<ReduceNode>});

}  // namespace spruce
