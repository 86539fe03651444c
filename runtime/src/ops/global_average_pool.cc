// GlobalAveragePool: [N, C, H, W] → [N, C, 1, 1], the mean of each plane,
// read NCHW or NHWC as its producer wrote it; any number of spatial
// dimensions ([N, C, L] → [N, C, 1]) the same way.
#include "ops/op.h"
#include "simple_ops.h"

namespace spruce {
namespace {

class GlobalAveragePoolNode final : public NodeOp {
 public:
  using NodeOp::NodeOp;
  void run(RunContext& ctx) const override {
    const bool channels_last = ctx.input_layout(0) == Layout::kChannelsLast;
    const float* x =
        ctx.input(0, channels_last ? Layout::kChannelsLast : Layout::kRowMajor);
    global_average_pool(x, ctx.input_shape(0), ctx.output(), channels_last,
                        ctx.threads());
  }
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  if (x.size() < 3) {
    fail_node(node, "input must be [N, C, spatial...], is " + to_string(x));
  }
  Shape y(x.size(), 1);
  y[0] = x[0];
  y[1] = x[1];
  return {y};
}

}  // namespace

extern const OpRule kGlobalAveragePoolRule =
    per_image({check, shapes, create_op<GlobalAveragePoolNode>});

}  // namespace spruce
