// Concat: y = inputs joined along attribute "axis", row-major.
#include <algorithm>

#include "ops/op.h"

namespace spruce {
namespace {

class ConcatNode final : public NodeOp {
 public:
  explicit ConcatNode(const OpInit& init)
      : NodeOp(init),
        axis_(static_cast<size_t>(init.node.attrs.get_int("axis", 1))) {}
  // Each input contributes its rows of prod(dims[axis:]) elements to every
  // one of the prod(dims[:axis]) outer rows.
  void run(RunContext& ctx) const override {
    float* y = ctx.output();
    const Shape& ys = ctx.output_shape();
    size_t outer = 1;
    for (size_t d = 0; d < axis_; ++d) outer *= static_cast<size_t>(ys[d]);
    const size_t out_row = outer == 0 ? 0 : element_count(ys) / outer;
    size_t offset = 0;
    for (size_t k = 0; k < node_.inputs.size(); ++k) {
      const float* x = ctx.input(k);
      const size_t row =
          outer == 0 ? 0 : element_count(ctx.input_shape(k)) / outer;
      for (size_t o = 0; o < outer; ++o) {
        std::copy(x + o * row, x + (o + 1) * row, y + o * out_row + offset);
      }
      offset += row;
    }
  }

 private:
  size_t axis_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{1, ~size_t{0}});
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& first = inputs.at(0);
  const int64_t a = node.attrs.get_int("axis", 1);
  if (a < 0 || static_cast<size_t>(a) >= first.size()) {
    fail_node(node, "axis " + std::to_string(a) + " out of range for input " +
                        to_string(first));
  }
  const auto axis = static_cast<size_t>(a);
  Shape y = first;
  for (size_t k = 1; k < inputs.size(); ++k) {
    const Shape& s = inputs[k];
    if (s.size() != first.size()) {
      fail_node(node, "inputs " + to_string(first) + " and " + to_string(s) +
                          " differ in rank");
    }
    for (size_t d = 0; d < s.size(); ++d) {
      if (d == axis) {
        y[d] = y[d] >= 0 && s[d] >= 0 ? y[d] + s[d] : -1;
      } else {
        y[d] = same_dim(node, y[d], s[d], "dimension " + std::to_string(d));
      }
    }
  }
  return {y};
}

}  // namespace

extern const OpRule kConcatRule =
    per_image({check, shapes, create_op<ConcatNode>});

}  // namespace spruce
