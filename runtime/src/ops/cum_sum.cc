// CumSum: running sums of x along attribute "axis" (non-negative); with
// "exclusive" each sum leaves out its own element, with "reverse" it runs
// from the end (ONNX CumSum). Integer tensors are held as floats, so their
// sums are exact while they stay within ±2^24.
#include "ops/op.h"

namespace spruce {
namespace {

class CumSumNode final : public NodeOp {
 public:
  explicit CumSumNode(const OpInit& init)
      : NodeOp(init),
        axis_(static_cast<size_t>(init.node.attrs.get_int("axis", 0))),
        exclusive_(init.node.attrs.get_bool("exclusive")),
        reverse_(init.node.attrs.get_bool("reverse")) {}

  void run(RunContext& ctx) const override {
    const Shape& xs = ctx.input_shape(0);
    const float* x = ctx.input(0);
    float* y = ctx.output();
    const auto n = static_cast<size_t>(xs[axis_]);
    const auto inner =
        static_cast<size_t>(product_or_unknown(xs, axis_ + 1, xs.size()));
    const auto outer = static_cast<size_t>(product_or_unknown(xs, 0, axis_));
    for (size_t o = 0; o < outer; ++o) {
      const float* xo = x + o * n * inner;
      float* yo = y + o * n * inner;
      // Rows along the axis in the order the sums run; each row is the
      // previous row's sum plus (inclusive) or minus nothing of (exclusive)
      // its own input, element by element across the inner run.
      const float* prev_x = nullptr;
      const float* prev_y = nullptr;
      for (size_t step = 0; step < n; ++step) {
        const size_t r = reverse_ ? n - 1 - step : step;
        const float* xr = xo + r * inner;
        float* yr = yo + r * inner;
        for (size_t i = 0; i < inner; ++i) {
          const float before = prev_y == nullptr ? 0.0f
                               : exclusive_      ? prev_y[i] + prev_x[i]
                                                 : prev_y[i];
          yr[i] = exclusive_ ? before : before + xr[i];
        }
        prev_x = xr;
        prev_y = yr;
      }
    }
  }

 private:
  size_t axis_;
  bool exclusive_;
  bool reverse_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
  node.attrs.get_bool("exclusive");
  node.attrs.get_bool("reverse");
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  checked_axis(node, node.attrs.get_int("axis", 0), inputs.at(0).size());
  return {inputs.at(0)};
}

}  // namespace

extern const OpRule kCumSumRule = per_image(
    {check, shapes, create_op<CumSumNode>}, BatchRule::kPerImageUnlessAxis0);

}  // namespace spruce
