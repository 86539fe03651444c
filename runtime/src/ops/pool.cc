// MaxPool and AveragePool: the maximum or the mean of each NCHW (or NCDHW)
// window (SpatialParams; AveragePool over the window cells inside the input
// unless count_include_pad), on spruce's pooling kernels (2-D) or oneDNN
// (3-D); channels-last after a channels-last producer. One file for the two
// ops, which differ only in their reduction.
#include "op_params.h"
#include "ops/op.h"
#include "simple_ops.h"

namespace spruce {
namespace {

class PoolNode final : public NodeOp {
 public:
  explicit PoolNode(const OpInit& init)
      : NodeOp(init),
        pool_(init.node.op, spatial_params_of(init.node.attrs), init.engine) {}
  void plan_layouts(LayoutPlanner& planner) override {
    if (planner.layout(node_.inputs[0]) == Layout::kChannelsLast) {
      planner.set_layout(node_.outputs[0], Layout::kChannelsLast);
    }
  }
  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0, ctx.output_layout());
    pool_.run(x, ctx.input_shape(0), ctx.output(),
              ctx.output_layout() == Layout::kChannelsLast, ctx.threads());
  }

 private:
  PoolOp pool_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
  spatial_params_of(node.attrs);
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  const SpatialParams p = spatial_params_of(node.attrs);
  if (x.size() != 2 + p.rank) {
    fail_node(node, std::string("input must be ") +
                        (p.rank == 2 ? "NCHW [N, C, H, W]"
                                     : "NCDHW [N, C, D, H, W]") +
                        ", is " + to_string(x));
  }
  return {window_output_shape(node, p, x, x[1])};
}

}  // namespace

extern const OpRule kMaxPoolRule =
    per_image({check, shapes, create_op<PoolNode>});
extern const OpRule kAveragePoolRule =
    per_image({check, shapes, create_op<PoolNode>});

}  // namespace spruce
