// Flatten: y = x reshaped to [prod(dims[:axis]), prod(dims[axis:])]
// (attribute "axis", default 1), the same bytes under a new shape.
#include "ops/op.h"

namespace spruce {
namespace {

class FlattenNode final : public NodeOp {
 public:
  using NodeOp::NodeOp;
  // Keeping the last dimension keeps feature-major bytes valid.
  void plan_layouts(LayoutPlanner& planner) override {
    const uint32_t in = node_.inputs[0];
    const Shape& x = graph_.values[in].shape;
    const Shape& y = graph_.values[node_.outputs[0]].shape;
    const bool same_features =
        !x.empty() && x.back() > 0 && x.back() == y.back();
    if (same_features && planner.layout(in) == Layout::kFeatureMajor) {
      planner.set_layout(node_.outputs[0], Layout::kFeatureMajor);
    }
  }
  void run(RunContext& ctx) const override {
    // No copy unless the layout must change.
    ctx.set_output(0, ctx.input(0, ctx.output_layout()));
  }
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  const int64_t a = node.attrs.get_int("axis", 1);
  if (a < 0 || static_cast<size_t>(a) > x.size()) {
    fail_node(node, "axis " + std::to_string(a) + " out of range for input " +
                        to_string(x));
  }
  const auto axis = static_cast<size_t>(a);
  return {
      {product_or_unknown(x, 0, axis), product_or_unknown(x, axis, x.size())}};
}

}  // namespace

extern const OpRule kFlattenRule = per_image(
    {check, shapes, create_op<FlattenNode>, OutputMemory::kAliasInput});

}  // namespace spruce
