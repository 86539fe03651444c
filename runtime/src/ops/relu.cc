// Relu: y = max(x, 0), elementwise in its input's layout, in place when the
// memory plan allows.
#include "ops/op.h"

namespace spruce {
namespace {

class ReluNode final : public NodeOp {
 public:
  using NodeOp::NodeOp;
  void plan_layouts(LayoutPlanner& planner) override {
    planner.set_layout(node_.outputs[0], planner.layout(node_.inputs[0]));
  }
  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0, ctx.output_layout());
    float* y = ctx.output();
    const size_t count = element_count(ctx.output_shape());
    for (size_t k = 0; k < count; ++k) y[k] = x[k] > 0.0f ? x[k] : 0.0f;
  }
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
}

}  // namespace

extern const OpRule kReluRule =
    per_image({check, same_shape, create_op<ReluNode>, OutputMemory::kInPlace});

}  // namespace spruce
