// GatherElements: y has the shape of `indices`, and y at index p is x at p
// with its "axis" coordinate replaced by indices[p] (ONNX GatherElements;
// negative indices count from the end). x and indices have the same rank;
// indices may be smaller than x in any dimension. An index that is not an
// integer in [-n, n) is refused when the run sees it.
#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class GatherElementsNode final : public NodeOp {
 public:
  explicit GatherElementsNode(const OpInit& init)
      : NodeOp(init),
        axis_(static_cast<size_t>(init.node.attrs.get_int("axis", 0))) {}

  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0);
    const float* ids = ctx.input(1);
    const Shape& xs = ctx.input_shape(0);
    const Shape& is = ctx.input_shape(1);
    float* y = ctx.output();
    const std::vector<size_t> stride = row_major_strides(xs);
    const auto n = xs[axis_];
    const size_t count = element_count(is);
    std::vector<int64_t> index(is.size(), 0);
    for (size_t k = 0; k < count; ++k, next_index(&index, is)) {
      const size_t i = checked_index(node_, ids[k], n, k);
      size_t at = 0;
      for (size_t d = 0; d < is.size(); ++d) {
        at += (d == axis_ ? i : static_cast<size_t>(index[d])) * stride[d];
      }
      y[k] = x[at];
    }
  }

 private:
  size_t axis_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{2, 2});
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  const Shape& ids = inputs.at(1);
  const size_t axis =
      checked_axis(node, node.attrs.get_int("axis", 0), x.size());
  if (ids.size() != x.size()) {
    fail_node(node, "indices " + to_string(ids) + " and data " + to_string(x) +
                        " differ in rank");
  }
  for (size_t d = 0; d < x.size(); ++d) {
    if (d != axis && ids[d] >= 0 && x[d] >= 0 && ids[d] > x[d]) {
      fail_node(node, "indices " + to_string(ids) + " exceed data " +
                          to_string(x) + " in dimension " + std::to_string(d));
    }
  }
  if (x[axis] == 0) fail_node(node, "gathers from an empty axis");
  return {ids};
}

}  // namespace

extern const OpRule kGatherElementsRule{check, shapes,
                                        create_op<GatherElementsNode>};

}  // namespace spruce
