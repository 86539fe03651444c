// Scatter: y is `data` with elements replaced (or combined) by `updates` at
// positions given by `indices` (ONNX ScatterND and ScatterElements, which
// the deprecated Scatter is).
//   "elements" 0, ScatterND: indices [..., k] address data's first k
//     dimensions; updates = indices' leading shape + data's trailing
//     dimensions, one slice per index tuple.
//   "elements" 1, ScatterElements: indices and updates have one shape of
//     data's rank; element p goes to p with its "axis" coordinate replaced
//     by indices[p].
// "reduction": 0 replaces, 1 adds, 2 multiplies, 3 keeps the max, 4 the min.
// Updates apply in row-major order, so with duplicate indices the last one
// wins a replacement. Negative indices count from the end; one outside
// [-n, n) is refused when the run sees it.
#include <algorithm>
#include <cstring>

#include "ops/op.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

enum Reduction : int64_t { kNone, kAdd, kMul, kMax, kMin };

class ScatterNode final : public NodeOp {
 public:
  explicit ScatterNode(const OpInit& init)
      : NodeOp(init),
        elements_(init.node.attrs.get_int("elements", 0) != 0),
        axis_(static_cast<size_t>(init.node.attrs.get_int("axis", 0))),
        reduction_(init.node.attrs.get_int("reduction", kNone)) {}

  void run(RunContext& ctx) const override {
    const Shape& xs = ctx.input_shape(0);
    float* y = ctx.output();
    std::memcpy(y, ctx.input(0), element_count(xs) * sizeof(float));
    if (elements_) {
      scatter_elements(ctx, y);
    } else {
      scatter_nd(ctx, y);
    }
  }

 private:
  void combine(float* at, float v) const {
    switch (reduction_) {
      case kAdd:
        *at += v;
        break;
      case kMul:
        *at *= v;
        break;
      case kMax:
        *at = std::max(*at, v);
        break;
      case kMin:
        *at = std::min(*at, v);
        break;
      default:
        *at = v;
    }
  }

  void scatter_nd(RunContext& ctx, float* y) const {
    const Shape& xs = ctx.input_shape(0);
    const Shape& is = ctx.input_shape(1);
    const float* ids = ctx.input(1);
    const float* updates = ctx.input(2);
    const size_t k = static_cast<size_t>(is.back());
    const std::vector<size_t> stride = row_major_strides(xs);
    const size_t slice_size = k == 0 ? element_count(xs) : stride[k - 1];
    const size_t tuples = element_count(Shape(is.begin(), is.end() - 1));
    for (size_t t = 0; t < tuples; ++t) {
      size_t at = 0;
      for (size_t d = 0; d < k; ++d) {
        at +=
            checked_index(node_, ids[t * k + d], xs[d], t * k + d) * stride[d];
      }
      for (size_t e = 0; e < slice_size; ++e) {
        combine(&y[at + e], updates[t * slice_size + e]);
      }
    }
  }

  void scatter_elements(RunContext& ctx, float* y) const {
    const Shape& xs = ctx.input_shape(0);
    const Shape& is = ctx.input_shape(1);
    const float* ids = ctx.input(1);
    const float* updates = ctx.input(2);
    const std::vector<size_t> stride = row_major_strides(xs);
    const size_t count = element_count(is);
    std::vector<int64_t> index(is.size(), 0);
    for (size_t p = 0; p < count; ++p, next_index(&index, is)) {
      size_t at = 0;
      for (size_t d = 0; d < is.size(); ++d) {
        const size_t i = d == axis_ ? checked_index(node_, ids[p], xs[d], p)
                                    : static_cast<size_t>(index[d]);
        at += i * stride[d];
      }
      combine(&y[at], updates[p]);
    }
  }

  bool elements_;
  size_t axis_;
  int64_t reduction_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{3, 3});
  node.attrs.get_int_in("reduction", kNone, kNone, kMin);
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& xs = inputs.at(0);
  const Shape& is = inputs.at(1);
  const Shape& us = inputs.at(2);
  auto mismatch = [&](const std::string& why) {
    fail_node(node, "updates " + to_string(us) + " do not fit indices " +
                        to_string(is) + " into data " + to_string(xs) + ": " +
                        why);
  };
  if (node.attrs.get_int("elements", 0) != 0) {
    checked_axis(node, node.attrs.get_int("axis", 0), xs.size());
    if (is.size() != xs.size() || us != is) {
      mismatch("indices and updates need data's rank and one shape");
    }
    return {xs};
  }
  if (is.empty() || is.back() < 0 || xs.empty()) {
    mismatch("indices need a known last dimension and data a rank");
  }
  const auto k = static_cast<size_t>(is.back());
  if (k > xs.size()) mismatch("index tuples are longer than data's rank");
  Shape want(is.begin(), is.end() - 1);
  want.insert(want.end(), xs.begin() + static_cast<std::ptrdiff_t>(k),
              xs.end());
  if (us.size() != want.size()) mismatch("wrong rank");
  for (size_t d = 0; d < want.size(); ++d) {
    if (us[d] >= 0 && want[d] >= 0 && us[d] != want[d]) {
      mismatch("expected " + to_string(want));
    }
  }
  return {xs};
}

}  // namespace

extern const OpRule kScatterRule{check, shapes, create_op<ScatterNode>};

}  // namespace spruce
