// Binary: y = a (binary_op) b, numpy broadcasting; Equal gives 1 or 0.
#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class BinaryNode final : public NodeOp {
 public:
  using NodeOp::NodeOp;
  void run(RunContext& ctx) const override {
    const float* a = ctx.input(0);
    const float* b = ctx.input(1);
    binary(node_.binary_op, a, ctx.input_shape(0), b, ctx.input_shape(1),
           ctx.output(), ctx.output_shape());
  }
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{2, 2});
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  return {broadcast_all(node, inputs)};
}

}  // namespace

extern const OpRule kBinaryRule{check, shapes, create_op<BinaryNode>,
                                OutputMemory::kInPlace};

}  // namespace spruce
