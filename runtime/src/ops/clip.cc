// Clip: y = min(max(x, min), max) (attributes "min", "max"), elementwise in
// its input's layout, in place when the memory plan allows.
#include "ops/op.h"
#include "simple_ops.h"

namespace spruce {
namespace {

class ClipNode final : public NodeOp {
 public:
  explicit ClipNode(const OpInit& init)
      : NodeOp(init),
        min_(init.node.attrs.get_float("min", 0)),
        max_(init.node.attrs.get_float("max", 0)) {}
  void plan_layouts(LayoutPlanner& planner) override {
    planner.set_layout(node_.outputs[0], planner.layout(node_.inputs[0]));
  }
  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0, ctx.output_layout());
    float* y = ctx.output();
    clip(x, element_count(ctx.output_shape()), min_, max_, y);
  }

 private:
  float min_, max_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
  const float lo = node.attrs.get_float("min", 0);
  const float hi = node.attrs.get_float("max", 0);
  if (!(lo <= hi)) {  // also refuses NaN
    throw Error(node_label(node) + " has clip bounds [" + std::to_string(lo) +
                ", " + std::to_string(hi) + "]");
  }
}

}  // namespace

extern const OpRule kClipRule =
    per_image({check, same_shape, create_op<ClipNode>, OutputMemory::kInPlace});

}  // namespace spruce
