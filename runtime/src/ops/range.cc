// Range: [start, start + delta, ...] below a limit that is a dimension of a
// tensor known only at run time (ONNX Range whose limit is a dynamic size,
// as torch.arange(x.shape[1]) exports): input x, attributes "dim" (x's
// dimension giving the limit), "start" and "delta". n = ceil((x[dim] -
// start) / delta) elements; none is an error (spruce has no empty tensors).
// A Range of constants is folded at conversion instead.
#include <cmath>

#include "ops/op.h"

namespace spruce {
namespace {

// Elements for limit `limit`; -1 if the limit is unknown.
int64_t range_size(const NodeDesc& node, int64_t limit) {
  if (limit < 0) return -1;
  const double start = node.attrs.get_float("start", 0.0f);
  const double delta = node.attrs.get_float("delta", 1.0f);
  const double n = std::ceil((static_cast<double>(limit) - start) / delta);
  if (!(n >= 1)) {
    fail_node(node, "Range from " + number_text(static_cast<float>(start)) +
                        " below " + std::to_string(limit) + " by " +
                        number_text(static_cast<float>(delta)) +
                        " is empty, which spruce does not support");
  }
  if (n > static_cast<double>(kMaxActivationElements)) {
    fail_node(node, "Range of " + std::to_string(n) + " elements is too large");
  }
  return static_cast<int64_t>(n);
}

class RangeNode final : public NodeOp {
 public:
  explicit RangeNode(const OpInit& init)
      : NodeOp(init),
        start_(init.node.attrs.get_float("start", 0.0f)),
        delta_(init.node.attrs.get_float("delta", 1.0f)) {}

  void run(RunContext& ctx) const override {
    float* y = ctx.output();
    const size_t n = element_count(ctx.output_shape());
    for (size_t k = 0; k < n; ++k) {
      y[k] = static_cast<float>(start_ + static_cast<double>(k) * delta_);
    }
  }

 private:
  double start_;
  double delta_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
  if (node.attrs.get_float("delta", 1.0f) == 0.0f) {
    throw Error(node_label(node) + " has delta 0");
  }
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  const size_t dim = checked_axis(node, node.attrs.get_int("dim", 0), x.size());
  return {{range_size(node, x[dim])}};
}

}  // namespace

extern const OpRule kRangeRule{check, shapes, create_op<RangeNode>};

}  // namespace spruce
