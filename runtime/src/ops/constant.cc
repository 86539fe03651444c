// Constant: y = weight 0, with its shape; no inputs. Its bytes are the
// weight's own, in the memory map.
#include "ops/op.h"

namespace spruce {
namespace {

class ConstantNode final : public NodeOp {
 public:
  using NodeOp::NodeOp;
  void run(RunContext& ctx) const override {
    ctx.set_output(0, graph_.weights[node_.weights[0]].values);
  }
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{0, 0, 1, 1, 1});
}

std::vector<Shape> shapes(const Graph& graph, const NodeDesc& node,
                          const std::vector<Shape>& /*inputs*/) {
  return {graph.weights[node.weights[0]].shape};
}

}  // namespace

extern const OpRule kConstantRule =
    per_image({check, shapes, create_op<ConstantNode>, OutputMemory::kWeight});

}  // namespace spruce
