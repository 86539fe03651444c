// LayerNorm: normalizes over dimensions "axis".. with "epsilon"; weights:
// scale and an optional bias, each of the normalized size. In place when the
// plan allows.
#include "ops/op.h"
#include "spruce/kernels/rows.h"

namespace spruce {
namespace {

class LayerNormNode final : public NodeOp {
 public:
  explicit LayerNormNode(const OpInit& init)
      : NodeOp(init),
        axis_(static_cast<size_t>(init.node.attrs.get_int("axis", 1))),
        epsilon_(init.node.attrs.get_float("epsilon", 0)) {}
  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0);
    const Shape& ys = ctx.output_shape();
    size_t inner = 1;
    for (size_t d = axis_; d < ys.size(); ++d) {
      inner *= static_cast<size_t>(ys[d]);
    }
    const float* bias = node_.weights.size() > 1
                            ? graph_.weights[node_.weights[1]].values
                            : nullptr;
    kernels::layer_norm_rows(x, element_count(ys) / inner, inner,
                             graph_.weights[node_.weights[0]].values, bias,
                             epsilon_, ctx.output());
  }

 private:
  size_t axis_;
  float epsilon_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{1, 1, 1, 1, 2});
  const float epsilon = node.attrs.get_float("epsilon", 0);
  if (!(epsilon >= 0 && epsilon < 1)) {  // also refuses NaN
    throw Error(node_label(node) + " has epsilon " + std::to_string(epsilon));
  }
}

std::vector<Shape> shapes(const Graph& graph, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  const size_t axis =
      checked_axis(node, node.attrs.get_int("axis", 1), x.size());
  const int64_t inner = product_or_unknown(x, axis, x.size());
  for (uint32_t w : node.weights) {
    const auto count = static_cast<int64_t>(graph.weights[w].value_count);
    if (inner >= 0 && count != inner) {
      fail_node(node, "normalizes " + std::to_string(inner) +
                          " values, weight '" + graph.weights[w].name +
                          "' has " + std::to_string(count));
    }
  }
  return {x};
}

}  // namespace

extern const OpRule kLayerNormRule =
    per_image({check, shapes, create_op<LayerNormNode>, OutputMemory::kInPlace},
              BatchRule::kPerImageUnlessAxis0);

}  // namespace spruce
