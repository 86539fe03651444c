// Clip: y = min(max(x, clip_min), clip_max), elementwise in its input's
// layout, in place when the memory plan allows.
#include "ops/op.h"
#include "simple_ops.h"

namespace spruce {
namespace {

class ClipNode final : public NodeOp {
 public:
  using NodeOp::NodeOp;
  void plan_layouts(LayoutPlanner& planner) override {
    planner.set_layout(node_.outputs[0], planner.layout(node_.inputs[0]));
  }
  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0, ctx.output_layout());
    float* y = ctx.output();
    clip(x, element_count(ctx.output_shape()), node_.clip_min, node_.clip_max,
         y);
  }
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
  if (!(node.clip_min <= node.clip_max)) {  // also refuses NaN
    throw Error(node_label(node) + " has clip bounds [" +
                std::to_string(node.clip_min) + ", " +
                std::to_string(node.clip_max) + "]");
  }
}

}  // namespace

extern const OpRule kClipRule{check, same_shape, create_op<ClipNode>,
                              OutputMemory::kInPlace};

}  // namespace spruce
