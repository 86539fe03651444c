// Add: y = act(a + b) (attribute "activation"), numpy broadcasting (b may
// be smaller); channels-last
// between convolutions when neither side broadcasts.
#include "op_params.h"
#include "ops/op.h"
#include "simple_ops.h"

namespace spruce {
namespace {

class AddNode final : public NodeOp {
 public:
  explicit AddNode(const OpInit& init)
      : NodeOp(init), activation_(activation_of(init.node.attrs)) {}
  void plan_layouts(LayoutPlanner& planner) override {
    const uint32_t a = node_.inputs[0];
    const uint32_t b = node_.inputs[1];
    if ((planner.layout(a) == Layout::kChannelsLast ||
         planner.layout(b) == Layout::kChannelsLast) &&
        graph_.values[a].shape == graph_.values[b].shape &&
        graph_.values[a].shape.size() == 4) {
      planner.set_layout(node_.outputs[0], Layout::kChannelsLast);
    }
  }
  void run(RunContext& ctx) const override {
    const float* a = ctx.input(0, ctx.output_layout());
    const float* b = ctx.input(1, ctx.output_layout());
    add_broadcast(a, ctx.input_shape(0), b, ctx.input_shape(1), ctx.output(),
                  ctx.output_shape(), activation_);
  }

 private:
  kernels::Activation activation_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{2, 2});
  if (activation_of(node.attrs) == kernels::Activation::kGelu) {
    throw Error(node_label(node) + " cannot fuse Gelu");
  }
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  return {broadcast_all(node, inputs)};
}

}  // namespace

extern const OpRule kAddRule =
    per_image({check, shapes, create_op<AddNode>, OutputMemory::kInPlaceAny});

}  // namespace spruce
