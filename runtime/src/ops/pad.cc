// Pad: x grown by "pads" (per dimension, all the begins then all the ends,
// as ONNX orders them), the new cells filled by "mode": 0 the float "value",
// 1 the reflection about the edge (the edge not repeated), 2 the edge
// repeated.
#include <algorithm>

#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

enum class PadMode : int64_t { kConstant = 0, kReflect = 1, kEdge = 2 };

// The source index in [0, n) of padded index i (i - begin), or -1 for the
// fill value.
int64_t source_index(PadMode mode, int64_t i, int64_t n) {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PadMode::kConstant:
      return -1;
    case PadMode::kEdge:
      return std::clamp<int64_t>(i, 0, n - 1);
    case PadMode::kReflect: {
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);
      int64_t r = i % period;
      if (r < 0) r += period;
      return r < n ? r : period - r;
    }
  }
  return -1;
}

class PadNode final : public NodeOp {
 public:
  explicit PadNode(const OpInit& init)
      : NodeOp(init),
        pads_(init.node.attrs.get_ints("pads")),
        mode_(
            static_cast<PadMode>(init.node.attrs.get_int_in("mode", 0, 0, 2))),
        value_(init.node.attrs.get_float("value", 0.0f)) {}

  void run(RunContext& ctx) const override {
    const Shape& xs = ctx.input_shape(0);
    copy_by_dimension(ctx.input(0), xs, ctx.output(), ctx.output_shape(),
                      value_, [&](size_t d, int64_t i) {
                        return source_index(mode_, i - pads_[d], xs[d]);
                      });
  }

 private:
  std::vector<int64_t> pads_;
  PadMode mode_;
  float value_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{});
  node.attrs.get_int_in("mode", 0, 0, 2);
  node.attrs.get_float("value", 0.0f);
  for (int64_t p : node.attrs.get_ints("pads")) {
    if (p < 0 || p > (int64_t{1} << 20)) {
      throw Error(node_label(node) + " has pad " + std::to_string(p) +
                  " (allowed 0 to 2^20)");
    }
  }
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  const std::vector<int64_t>& pads = node.attrs.get_ints("pads");
  if (pads.size() != 2 * x.size()) {
    fail_node(node, "has " + std::to_string(pads.size()) + " pads for input " +
                        to_string(x));
  }
  Shape y = x;
  const auto mode = static_cast<PadMode>(node.attrs.get_int("mode", 0));
  for (size_t d = 0; d < x.size(); ++d) {
    if (x[d] < 0) continue;
    if (x[d] == 0 && mode != PadMode::kConstant) {
      fail_node(node, "cannot reflect or extend an empty dimension");
    }
    y[d] = x[d] + pads[d] + pads[d + x.size()];
  }
  return {y};
}

}  // namespace

extern const OpRule kPadRule = per_image({check, shapes, create_op<PadNode>});

}  // namespace spruce
