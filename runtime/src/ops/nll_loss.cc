// NllLoss: ONNX NegativeLogLikelihoodLoss. Inputs log-probabilities x
// [N, C, d1, ...], target [N, d1, ...] (integer class indices, held as
// float) and optionally per-class weights w [C]. Per element,
//   loss[n, d] = -x[n, target[n, d], d] · w[target[n, d]]   (w = 1 if absent)
// and 0 where target equals "ignore_index" (when "has_ignore_index").
// "reduction": 0 none (loss shaped as target), 1 sum, 2 mean (the sum over
// the sum of the weights taken; a scalar). A target outside [0, C) that is
// not ignored is an error naming it.
#include <cmath>

#include "ops/op.h"

namespace spruce {
namespace {

enum Reduction : int64_t { kNone = 0, kSum = 1, kMean = 2 };

class NllLossNode final : public NodeOp {
 public:
  explicit NllLossNode(const OpInit& init)
      : NodeOp(init),
        reduction_(init.node.attrs.get_int("reduction", kMean)),
        has_ignore_(init.node.attrs.get_bool("has_ignore_index")),
        ignore_(init.node.attrs.get_int("ignore_index", 0)) {}

  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0);
    const float* target = ctx.input(1);
    const float* weight = ctx.has_input(2) ? ctx.input(2) : nullptr;
    const Shape& xs = ctx.input_shape(0);
    const auto batch = static_cast<size_t>(xs[0]);
    const auto classes = static_cast<size_t>(xs[1]);
    const size_t inner =
        static_cast<size_t>(product_or_unknown(xs, 2, xs.size()));
    float* y = ctx.output();
    double total = 0, weights = 0;
    for (size_t n = 0; n < batch; ++n) {
      for (size_t i = 0; i < inner; ++i) {
        const size_t at = n * inner + i;
        const float t = target[at];
        double loss = 0, w = 0;
        if (!(has_ignore_ && t == static_cast<float>(ignore_))) {
          if (!(t >= 0.0f && t < static_cast<float>(classes)) ||
              t != std::trunc(t)) {
            fail_node(node_, "target " + number_text(t) + " at position " +
                                 std::to_string(at) +
                                 " is not a class in [0, " +
                                 std::to_string(classes) + ")");
          }
          const auto c = static_cast<size_t>(t);
          w = weight != nullptr ? weight[c] : 1.0;
          loss = -static_cast<double>(x[(n * classes + c) * inner + i]) * w;
        }
        if (reduction_ == kNone) {
          y[at] = static_cast<float>(loss);
        } else {
          total += loss;
          weights += w;
        }
      }
    }
    if (reduction_ == kSum) y[0] = static_cast<float>(total);
    // Every target ignored: 0 / 0, as ONNX's reference computes it.
    if (reduction_ == kMean) y[0] = static_cast<float>(total / weights);
  }

 private:
  int64_t reduction_;
  bool has_ignore_;
  int64_t ignore_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{2, 3});
  node.attrs.get_int_in("reduction", kMean, kNone, kMean);
  node.attrs.get_bool("has_ignore_index");
}

std::vector<Shape> shapes(const Graph& /*graph*/, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  const Shape& target = inputs.at(1);
  if (x.size() < 2) {
    fail_node(node, "input " + to_string(x) + " needs [N, C, ...]");
  }
  Shape expected = x;
  expected.erase(expected.begin() + 1);
  bool matches = target.size() == expected.size();
  for (size_t d = 0; matches && d < target.size(); ++d) {
    matches = target[d] < 0 || expected[d] < 0 || target[d] == expected[d];
  }
  if (!matches) {
    fail_node(node, "target " + to_string(target) + " does not match input " +
                        to_string(x) + " (expected " + to_string(expected) +
                        ")");
  }
  if (inputs.size() > 2 && !inputs[2].empty() &&
      (inputs[2].size() != 1 ||
       (inputs[2][0] >= 0 && x[1] >= 0 && inputs[2][0] != x[1]))) {
    fail_node(node, "weight " + to_string(inputs[2]) +
                        " is not one per class [" + std::to_string(x[1]) + "]");
  }
  if (node.attrs.get_int("reduction", kMean) == kNone) return {expected};
  return {Shape{}};
}

}  // namespace

extern const OpRule kNllLossRule{check, shapes, create_op<NllLossNode>};

}  // namespace spruce
