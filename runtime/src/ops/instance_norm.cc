// InstanceNorm: each (n, c) plane of x [N, C, ...] normalized by its own
// mean and variance with "epsilon", then scaled and shifted per channel
// (weights: scale [C], bias [C]; ONNX InstanceNormalization).
#include <cmath>

#include "ops/op.h"

namespace spruce {
namespace {

class InstanceNormNode final : public NodeOp {
 public:
  explicit InstanceNormNode(const OpInit& init)
      : NodeOp(init), epsilon_(init.node.attrs.get_float("epsilon", 1e-5f)) {}

  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0);
    const Shape& xs = ctx.input_shape(0);
    float* y = ctx.output();
    const auto channels = static_cast<size_t>(xs[1]);
    const size_t plane = element_count(xs) / static_cast<size_t>(xs[0]) /
                         std::max<size_t>(channels, 1);
    const float* scale = graph_.weights[node_.weights[0]].values;
    const float* bias = graph_.weights[node_.weights[1]].values;
    const size_t planes = static_cast<size_t>(xs[0]) * channels;
    for (size_t p = 0; p < planes; ++p) {
      const float* in = x + p * plane;
      double sum = 0, squares = 0;
      for (size_t k = 0; k < plane; ++k) sum += in[k];
      const double mean = sum / static_cast<double>(plane);
      for (size_t k = 0; k < plane; ++k) {
        squares += (in[k] - mean) * (in[k] - mean);
      }
      const double inv =
          1.0 / std::sqrt(squares / static_cast<double>(plane) + epsilon_);
      const size_t c = p % channels;
      const auto a = static_cast<float>(scale[c] * inv);
      const auto b = static_cast<float>(bias[c] - mean * scale[c] * inv);
      float* out = y + p * plane;
      for (size_t k = 0; k < plane; ++k) out[k] = in[k] * a + b;
    }
  }

 private:
  float epsilon_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{1, 1, 1, 2, 2});
  const float epsilon = node.attrs.get_float("epsilon", 1e-5f);
  if (!(epsilon >= 0 && epsilon < 1)) {
    throw Error(node_label(node) + " has epsilon " + std::to_string(epsilon));
  }
  const Shape& s = graph.weights[node.weights[0]].shape;
  if (s.size() != 1 || graph.weights[node.weights[1]].shape != s) {
    throw Error(node_label(node) + " needs scale and bias of one size [C]");
  }
}

std::vector<Shape> shapes(const Graph& graph, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  const int64_t channels = graph.weights[node.weights[0]].shape[0];
  if (x.size() < 3 || (x[1] >= 0 && x[1] != channels)) {
    fail_node(node, "input must be [N, " + std::to_string(channels) +
                        ", ...] with at least one spatial dimension, is " +
                        to_string(x));
  }
  return {x};
}

}  // namespace

extern const OpRule kInstanceNormRule = per_image(
    {check, shapes, create_op<InstanceNormNode>, OutputMemory::kInPlace});

}  // namespace spruce
