// MatMul: numpy matmul of two activations on oneDNN (batch dimensions
// broadcast).
#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class MatMulNode final : public NodeOp {
 public:
  explicit MatMulNode(const OpInit& init)
      : NodeOp(init), matmul_(init.engine) {}
  void run(RunContext& ctx) const override {
    const float* a = ctx.input(0);
    const float* b = ctx.input(1);
    matmul_.run(a, ctx.input_shape(0), b, ctx.input_shape(1), ctx.output(),
                ctx.output_shape());
  }
  // Attention grows with the square of the sequence: the work comes from
  // the run's shapes, not from scaling.
  bool work_needs_run_shapes() const override { return true; }
  double onednn_multiply_adds(const std::vector<Shape>& shapes,
                              double /*multiply_adds*/,
                              size_t /*rows*/) const override {
    return multiply_adds(shapes);
  }
  void count_work(const std::vector<Shape>& shapes, double* flops,
                  std::string* kernel) const override {
    *flops += 2.0 * multiply_adds(shapes);
    *kernel = "onednn";
  }

 private:
  double multiply_adds(const std::vector<Shape>& shapes) const {
    const Shape& a = shapes[node_.inputs[0]];
    return static_cast<double>(element_count(shapes[node_.outputs[0]])) *
           static_cast<double>(a.empty() ? 1 : a.back());
  }
  MatMulOp matmul_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{2, 2});
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& a = inputs.at(0);
  const Shape& b = inputs.at(1);
  if (a.size() < 2 || b.size() < 2) {
    fail_node(node, "operands must have rank 2 or more, are " + to_string(a) +
                        " and " + to_string(b));
  }
  same_dim(node, a.back(), b[b.size() - 2], "the inner dimension");
  Shape y;
  if (!broadcast_shape(Shape(a.begin(), a.end() - 2),
                       Shape(b.begin(), b.end() - 2), &y)) {
    fail_node(node, "batch dimensions of " + to_string(a) + " and " +
                        to_string(b) + " do not broadcast");
  }
  y.push_back(a[a.size() - 2]);
  y.push_back(b.back());
  return {y};
}

}  // namespace

extern const OpRule kMatMulRule =
    per_image({check, shapes, create_op<MatMulNode>});

}  // namespace spruce
