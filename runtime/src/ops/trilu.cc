// Trilu: x with the elements outside a triangle of its last two dimensions
// zeroed: the upper one (attribute "upper", default 1) keeps column - row
// >= "k", the lower one column - row <= k (ONNX Trilu; causal masks).
#include "ops/op.h"

namespace spruce {
namespace {

class TriluNode final : public NodeOp {
 public:
  explicit TriluNode(const OpInit& init)
      : NodeOp(init),
        k_(init.node.attrs.get_int("k", 0)),
        upper_(init.node.attrs.get_int("upper", 1) != 0) {}

  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0);
    const Shape& xs = ctx.input_shape(0);
    float* y = ctx.output();
    const auto rows = static_cast<int64_t>(xs[xs.size() - 2]);
    const auto cols = static_cast<int64_t>(xs.back());
    const size_t matrices =
        element_count(xs) / static_cast<size_t>(rows * cols);
    for (size_t m = 0; m < matrices; ++m) {
      const size_t base = m * static_cast<size_t>(rows * cols);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
          const bool keep = upper_ ? c - r >= k_ : c - r <= k_;
          const size_t at = base + static_cast<size_t>(r * cols + c);
          y[at] = keep ? x[at] : 0.0f;
        }
      }
    }
  }

 private:
  int64_t k_;
  bool upper_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
  node.attrs.get_int("k", 0);
  node.attrs.get_int_in("upper", 1, 0, 1);
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  if (x.size() < 2) {
    fail_node(node, "input must have rank 2 or more, is " + to_string(x));
  }
  return {x};
}

}  // namespace

extern const OpRule kTriluRule{check, shapes, create_op<TriluNode>,
                               OutputMemory::kInPlace};

}  // namespace spruce
