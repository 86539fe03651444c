// Softmax along `axis`; with coerce_2d (ONNX before opset 13) over all
// dimensions from axis on. In place when the plan allows.
#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class SoftmaxNode final : public NodeOp {
 public:
  using NodeOp::NodeOp;
  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0);
    softmax(x, ctx.input_shape(0), static_cast<size_t>(node_.axis),
            node_.coerce_2d, ctx.output());
  }
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  checked_axis(node, node.axis, inputs.at(0).size());
  return {inputs.at(0)};
}

}  // namespace

extern const OpRule kSoftmaxRule{check, shapes, create_op<SoftmaxNode>,
                                 OutputMemory::kInPlace};

}  // namespace spruce
