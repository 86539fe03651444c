// Linear: y[..., out] = act(x[..., in] · Wᵀ + b) (attribute "activation");
// weights: W [out, in] in
// any layout, optional dense b [out]. The kernel for each batch width is
// chosen at load by timing (linear_op.h); between sparse Linears and LSTMs
// activations stay feature-major.
#include "linear_op.h"
#include "op_params.h"
#include "ops/op.h"
#include "spruce/engine.h"

namespace spruce {
namespace {

class LinearNode final : public NodeOp {
 public:
  // Timed reading and writing row-major activations, as a dense model lays
  // them out; plan_layouts settles the layouts.
  explicit LinearNode(const OpInit& init)
      : NodeOp(init),
        linear_(init.graph.weights[init.node.weights[0]],
                init.node.weights.size() > 1
                    ? &init.graph.weights[init.node.weights[1]]
                    : nullptr,
                activation_of(init.node.attrs), /*x_feature_major=*/false,
                /*y_feature_major=*/false, init.plan, init.engine) {}

  bool reads_feature_major() const override {
    return linear_.prefers_feature_major();
  }
  void plan_layouts(LayoutPlanner& planner) override {
    const uint32_t in = node_.inputs[0];
    const uint32_t out = node_.outputs[0];
    if (linear_.prefers_feature_major() &&
        planner.feeds_only_feature_major(out)) {
      planner.set_layout(out, Layout::kFeatureMajor);
    }
    // The input as its producer wrote it (channels-last images are read
    // row-major): Linears read either layout.
    linear_.set_layouts(planner.layout(in) == Layout::kFeatureMajor,
                        planner.layout(out) == Layout::kFeatureMajor);
  }
  void run(RunContext& ctx) const override {
    const float* x =
        ctx.input(0, linear_.x_feature_major() ? Layout::kFeatureMajor
                                               : Layout::kRowMajor);
    const size_t n = element_count(ctx.input_shape(0)) / linear_.in_features();
    linear_.run(x, n, ctx.output(), ctx.threads());
  }

  void describe(LayerInfo* info) const override {
    for (const auto& r : linear_.choice().ranges()) {
      info->kernels.push_back({static_cast<int64_t>(r.min_batch),
                               linear_kernel_name(r.kernel), r.speedup});
    }
    describe_weights(graph_, node_, info);
  }
  void work(const std::vector<Shape>& shapes, double* rows,
            double* multiply_adds) const override {
    const double n =
        static_cast<double>(element_count(shapes[node_.inputs[0]])) /
        static_cast<double>(linear_.in_features());
    *rows = n;
    *multiply_adds =
        n * static_cast<double>(linear_.in_features() * linear_.out_features());
  }
  double onednn_multiply_adds(const std::vector<Shape>& /*shapes*/,
                              double multiply_adds,
                              size_t rows) const override {
    return linear_.kernel_for(rows) == LinearKernel::kOneDnn ? multiply_adds
                                                             : 0.0;
  }
  void count_work(const std::vector<Shape>& shapes, double* flops,
                  std::string* kernel) const override {
    const size_t n =
        element_count(shapes[node_.inputs[0]]) / linear_.in_features();
    *flops += 2.0 * static_cast<double>(linear_.multiply_adds(n));
    *kernel = linear_kernel_name(linear_.kernel_for(n));
  }

 private:
  LinearOp linear_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{1, 1, 1, 1, 2, false});
  activation_of(node.attrs);
  const WeightDesc& w = graph.weights[node.weights[0]];
  if (w.shape.size() != 2) {
    throw Error(node_label(node) + " weight '" + w.name + "' has shape " +
                to_string(w.shape) + ", expected [out, in]");
  }
  check_optional_bias(graph, node, w.shape[0]);
}

std::vector<Shape> shapes(const Graph& graph, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  const WeightDesc& w = graph.weights[node.weights[0]];
  if (x.empty()) fail_node(node, "input is a scalar, expected [..., features]");
  const int64_t in = w.shape[1];
  if (x.back() >= 0 && x.back() != in) {
    fail_node(node, "input " + to_string(x) + " has " +
                        std::to_string(x.back()) + " features, weight '" +
                        w.name + "' expects " + std::to_string(in));
  }
  Shape y = x;
  y.back() = w.shape[0];
  return {y};
}

}  // namespace

extern const OpRule kLinearRule =
    per_image({check, shapes, create_op<LinearNode>});

}  // namespace spruce
