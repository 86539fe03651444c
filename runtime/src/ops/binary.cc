// Binary: y = f(a, b), numpy broadcasting; attribute "op" is f, a BinaryOp
// (ops/binary_list.inc); comparisons give 1 or 0.
#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class BinaryNode final : public NodeOp {
 public:
  explicit BinaryNode(const OpInit& init)
      : NodeOp(init), op_(op_of(init.node)) {}
  void run(RunContext& ctx) const override {
    const float* a = ctx.input(0);
    const float* b = ctx.input(1);
    binary(op_, a, ctx.input_shape(0), b, ctx.input_shape(1), ctx.output(),
           ctx.output_shape());
  }
  static BinaryOp op_of(const NodeDesc& node) {
    const int64_t code = node.attrs.get_int("op", 0);
    if (!is_binary_op(code)) {
      throw Error("unknown binary function " + std::to_string(code) +
                  " (written by a newer spruce?)");
    }
    return static_cast<BinaryOp>(code);
  }

 private:
  BinaryOp op_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{2, 2});
  BinaryNode::op_of(node);
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  return {broadcast_all(node, inputs)};
}

}  // namespace

extern const OpRule kBinaryRule{check, shapes, create_op<BinaryNode>,
                                OutputMemory::kInPlace};

}  // namespace spruce
