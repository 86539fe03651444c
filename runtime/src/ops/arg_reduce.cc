// ArgReduce: the index of the largest (or, with attribute "min", the
// smallest) value along "axis", the first one unless "select_last_index";
// that axis kept as size 1 if "keepdims" (default 1). Indices are held as
// float, exact below 2^24 (ONNX ArgMax, ArgMin).
#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class ArgReduceNode final : public NodeOp {
 public:
  explicit ArgReduceNode(const OpInit& init)
      : NodeOp(init),
        axis_(static_cast<size_t>(init.node.attrs.get_int("axis", 0))),
        min_(init.node.attrs.get_bool("min")),
        last_(init.node.attrs.get_bool("select_last_index")) {}

  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0);
    const Shape& xs = ctx.input_shape(0);
    float* y = ctx.output();
    const AxisSplit around = split_at_axis(xs, axis_);
    const size_t outer = around.outer, len = around.len, inner = around.inner;
    for (size_t o = 0; o < outer; ++o) {
      for (size_t i = 0; i < inner; ++i) {
        const float* line = x + o * len * inner + i;
        size_t best = 0;
        for (size_t j = 1; j < len; ++j) {
          const float v = line[j * inner];
          const float b = line[best * inner];
          const bool better = min_ ? (v < b || (last_ && v == b))
                                   : (v > b || (last_ && v == b));
          if (better) best = j;
        }
        y[o * inner + i] = static_cast<float>(best);
      }
    }
  }

 private:
  size_t axis_;
  bool min_;
  bool last_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
  node.attrs.get_bool("min");
  node.attrs.get_bool("select_last_index");
  node.attrs.get_bool("keepdims");
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  const size_t axis =
      checked_axis(node, node.attrs.get_int("axis", 0), x.size());
  if (x[axis] == 0) fail_node(node, "the reduced axis is empty");
  Shape y;
  for (size_t d = 0; d < x.size(); ++d) {
    if (d != axis) {
      y.push_back(x[d]);
    } else if (node.attrs.get_int("keepdims", 1) != 0) {
      y.push_back(1);
    }
  }
  return {y};
}

}  // namespace

extern const OpRule kArgReduceRule =
    per_image({check, shapes, create_op<ArgReduceNode>});

}  // namespace spruce
