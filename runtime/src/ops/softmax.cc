// Softmax along attribute "axis"; with "coerce_2d" (ONNX before opset 13)
// over all dimensions from axis on. Attribute "kind" 1 gives its log
// (LogSoftmax), 2 Hardmax. In place when the plan allows.
#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class SoftmaxNode final : public NodeOp {
 public:
  explicit SoftmaxNode(const OpInit& init)
      : NodeOp(init),
        axis_(static_cast<size_t>(init.node.attrs.get_int("axis", 1))),
        coerce_2d_(init.node.attrs.get_bool("coerce_2d")),
        kind_(static_cast<SoftmaxKind>(
            init.node.attrs.get_int_in("kind", 0, 0, 2))) {}
  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0);
    softmax(kind_, x, ctx.input_shape(0), axis_, coerce_2d_, ctx.output());
  }

 private:
  size_t axis_;
  bool coerce_2d_;
  SoftmaxKind kind_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
  node.attrs.get_bool("coerce_2d");
  node.attrs.get_int_in("kind", 0, 0, 2);
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  checked_axis(node, node.attrs.get_int("axis", 1), inputs.at(0).size());
  return {inputs.at(0)};
}

}  // namespace

extern const OpRule kSoftmaxRule =
    per_image({check, shapes, create_op<SoftmaxNode>, OutputMemory::kInPlace},
              BatchRule::kPerImageUnlessAxis0);

}  // namespace spruce
