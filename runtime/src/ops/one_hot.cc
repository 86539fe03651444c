// OneHot: y has the shape of `indices` with a dimension of size "depth"
// inserted at "axis"; y is "on" where that coordinate equals the index
// (an integer index in [-depth, depth), a negative one counting from the
// end) and "off" elsewhere, so an index out of range gives a row of "off"
// (ONNX OneHot; indices that are not integers are truncated, as ONNX
// casts them).
#include <cmath>

#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class OneHotNode final : public NodeOp {
 public:
  explicit OneHotNode(const OpInit& init)
      : NodeOp(init),
        axis_(static_cast<size_t>(init.node.attrs.get_int("axis", 0))),
        depth_(init.node.attrs.get_int("depth", 1)),
        off_(init.node.attrs.get_float("off", 0.0f)),
        on_(init.node.attrs.get_float("on", 1.0f)) {}

  void run(RunContext& ctx) const override {
    const float* ids = ctx.input(0);
    float* y = ctx.output();
    // The output around its new axis, whose size is the depth.
    const AxisSplit around = split_at_axis(ctx.output_shape(), axis_);
    const size_t outer = around.outer, depth = around.len, inner = around.inner;
    std::fill(y, y + outer * depth * inner, off_);
    for (size_t o = 0; o < outer; ++o) {
      for (size_t i = 0; i < inner; ++i) {
        const float v = std::trunc(ids[o * inner + i]);
        if (!(v >= static_cast<float>(-depth_) &&
              v < static_cast<float>(depth_))) {
          continue;
        }
        const auto at = static_cast<int64_t>(v) + (v < 0 ? depth_ : 0);
        y[(o * depth + static_cast<size_t>(at)) * inner + i] = on_;
      }
    }
  }

 private:
  size_t axis_;
  int64_t depth_;
  float off_, on_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
  if (node.attrs.get_int("depth", 0) < 1) {
    fail_node(node, "depth must be at least 1");
  }
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  const size_t axis =
      checked_axis(node, node.attrs.get_int("axis", 0), x.size() + 1);
  Shape y = x;
  y.insert(y.begin() + static_cast<std::ptrdiff_t>(axis),
           node.attrs.get_int("depth", 1));
  return {y};
}

}  // namespace

extern const OpRule kOneHotRule{check, shapes, create_op<OneHotNode>};

}  // namespace spruce
