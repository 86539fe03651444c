// GatherAxis: y = x taken at `indices` along "axis" (ONNX Gather of
// activations): x [..., n, ...] and indices I give y [...(axis), I...,
// ...]; with "squeeze" (one index, a scalar in ONNX) the axis is dropped.
// An index that is not an integer in [-n, n) is refused when the run sees
// it.
#include <cstring>

#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class GatherAxisNode final : public NodeOp {
 public:
  explicit GatherAxisNode(const OpInit& init)
      : NodeOp(init),
        axis_(static_cast<size_t>(init.node.attrs.get_int("axis", 0))) {}

  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0);
    const float* ids = ctx.input(1);
    const Shape& xs = ctx.input_shape(0);
    const size_t count = element_count(ctx.input_shape(1));
    float* y = ctx.output();
    const AxisSplit around = split_at_axis(xs, axis_);
    const size_t outer = around.outer, len = around.len, inner = around.inner;
    const auto n = static_cast<int64_t>(len);
    for (size_t k = 0; k < count; ++k) checked_index(node_, ids[k], n, k);
    for (size_t o = 0; o < outer; ++o) {
      for (size_t k = 0; k < count; ++k) {
        const size_t i = checked_index(node_, ids[k], n, k);
        std::memcpy(y + (o * count + k) * inner,
                    x + (o * static_cast<size_t>(n) + i) * inner,
                    inner * sizeof(float));
      }
    }
  }

 private:
  size_t axis_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{2, 2});
  node.attrs.get_bool("squeeze");
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  const Shape& ids = inputs.at(1);
  const size_t axis =
      checked_axis(node, node.attrs.get_int("axis", 0), x.size());
  if (x[axis] == 0) fail_node(node, "gathers from an empty axis");
  const bool squeeze = node.attrs.get_bool("squeeze");
  if (squeeze && product_or_unknown(ids, 0, ids.size()) != 1) {
    fail_node(node, "squeezes the axis but has indices " + to_string(ids));
  }
  Shape y(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(axis));
  if (!squeeze) y.insert(y.end(), ids.begin(), ids.end());
  y.insert(y.end(), x.begin() + static_cast<std::ptrdiff_t>(axis) + 1, x.end());
  return {y};
}

}  // namespace

extern const OpRule kGatherAxisRule{check, shapes, create_op<GatherAxisNode>};

}  // namespace spruce
