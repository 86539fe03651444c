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
  // Channels-last between convolutions when each input is either the
  // output's shape or one value per image and channel ([N or 1, C or 1, 1,
  // 1]: squeeze-excite's scale), whose memory is the same in both layouts,
  // and an input of the output's shape arrives channels-last: the
  // per-channel side has no layout of its own to vote with.
  void plan_layouts(LayoutPlanner& planner) override {
    const Shape& ys = graph_.values[node_.outputs[0]].shape;
    if (ys.size() != 4) return;
    bool fits = true, full_channels_last = false;
    for (uint32_t v : node_.inputs) {
      const Shape& s = graph_.values[v].shape;
      if (s == ys) {
        full_channels_last =
            full_channels_last || planner.layout(v) == Layout::kChannelsLast;
      } else if (s.size() != 4 || s[2] != 1 || s[3] != 1) {
        fits = false;
      }
    }
    if (fits && full_channels_last) {
      planner.set_layout(node_.outputs[0], Layout::kChannelsLast);
    }
  }
  void run(RunContext& ctx) const override {
    const Layout layout = ctx.output_layout();
    const float* a = ctx.input(0, layout);
    const float* b = ctx.input(1, layout);
    if (layout != Layout::kChannelsLast) {
      binary(op_, a, ctx.input_shape(0), b, ctx.input_shape(1), ctx.output(),
             ctx.output_shape());
      return;
    }
    // NHWC memory as a row-major [N, H, W, C] tensor.
    auto nhwc = [](const Shape& s) { return Shape{s[0], s[2], s[3], s[1]}; };
    binary(op_, a, nhwc(ctx.input_shape(0)), b, nhwc(ctx.input_shape(1)),
           ctx.output(), nhwc(ctx.output_shape()));
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

extern const OpRule kBinaryRule = per_image(
    {check, shapes, create_op<BinaryNode>, OutputMemory::kInPlaceAny});

}  // namespace spruce
