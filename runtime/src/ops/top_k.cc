// TopK: along "axis", the "k" largest values (or, with "smallest", the
// smallest), sorted so (descending, or ascending for the smallest), and
// their indices (held as float, exact below 2^24); equal values keep their
// input order (ONNX TopK with sorted = 1, which unsorted outputs may be).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

class TopKNode final : public NodeOp {
 public:
  explicit TopKNode(const OpInit& init)
      : NodeOp(init),
        axis_(static_cast<size_t>(init.node.attrs.get_int("axis", 0))),
        k_(static_cast<size_t>(init.node.attrs.get_int("k", 1))),
        smallest_(init.node.attrs.get_bool("smallest")) {}

  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0);
    const Shape& xs = ctx.input_shape(0);
    float* values = ctx.output(0);
    float* indices = ctx.output(1);
    const AxisSplit around = split_at_axis(xs, axis_);
    const size_t outer = around.outer, len = around.len, inner = around.inner;
    std::vector<size_t> order(len);
    for (size_t o = 0; o < outer; ++o) {
      for (size_t i = 0; i < inner; ++i) {
        const float* line = x + o * len * inner + i;
        std::iota(order.begin(), order.end(), size_t{0});
        // NaN counts as the largest, as ONNX's reference (numpy) sorts it.
        auto before = [&](size_t a, size_t b) {
          const float u = line[a * inner], v = line[b * inner];
          if (std::isnan(u) || std::isnan(v)) {
            return smallest_ ? std::isnan(v) && !std::isnan(u)
                             : std::isnan(u) && !std::isnan(v);
          }
          return smallest_ ? u < v : u > v;
        };
        std::partial_sort(order.begin(),
                          order.begin() + static_cast<std::ptrdiff_t>(k_),
                          order.end(), [&](size_t a, size_t b) {
                            return before(a, b) || (!before(b, a) && a < b);
                          });
        for (size_t j = 0; j < k_; ++j) {
          const size_t at = (o * k_ + j) * inner + i;
          values[at] = line[order[j] * inner];
          indices[at] = static_cast<float>(order[j]);
        }
      }
    }
  }

 private:
  size_t axis_;
  size_t k_;
  bool smallest_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{1, 1, 2});
  node.attrs.get_bool("smallest");
  if (node.attrs.get_int("k", 0) < 1) {
    fail_node(node, "k must be at least 1");
  }
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  const size_t axis =
      checked_axis(node, node.attrs.get_int("axis", 0), x.size());
  const int64_t k = node.attrs.get_int("k", 1);
  if (x[axis] >= 0 && k > x[axis]) {
    fail_node(node, "k " + std::to_string(k) + " exceeds dimension " +
                        std::to_string(axis) + " of " + to_string(x));
  }
  Shape y = x;
  y[axis] = k;
  return {y, y};
}

}  // namespace

extern const OpRule kTopKRule{check, shapes, create_op<TopKNode>};

}  // namespace spruce
