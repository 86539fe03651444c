// Conv: y = act(conv2d(x, W) + b), x [N, C, H, W] → y [N, O, H', W']
// (SpatialParams); weights: W as the matrix [O, C/group · kh · kw] (ONNX's
// [O, C/group, kh, kw] flattened), optional b [O]. BatchNormalization is
// folded in by the converter, and so is a residual connection's Add
// after it: an optional second input r [N, O, H', W'] makes
// y = act(conv2d(x, W) + b + r), y written over r where r dies here. The kernel
// (sparse or oneDNN) is chosen at load (conv_op.h); oneDNN's run channels-last,
// so chains of dense convs, pools and residual Adds stay NHWC; the depthwise
// kernel runs in its input's layout.
#include "conv_op.h"
#include "op_params.h"
#include "ops/op.h"
#include "spruce/engine.h"

namespace spruce {
namespace {

class ConvNode final : public NodeOp {
 public:
  explicit ConvNode(const OpInit& init)
      : NodeOp(init),
        conv_(init.graph.weights[init.node.weights[0]],
              init.node.weights.size() > 1
                  ? &init.graph.weights[init.node.weights[1]]
                  : nullptr,
              spatial_params_of(init.node.attrs),
              activation_of(init.node.attrs), init.node.inputs.size() > 1,
              init.graph.values[init.node.inputs[0]].shape, init.plan,
              init.engine) {}

  void plan_layouts(LayoutPlanner& planner) override {
    std::optional<bool> out_cl;
    if (const auto want = planner.readers_want(node_.outputs[0])) {
      out_cl = *want == Layout::kChannelsLast;
    }
    conv_.settle(planner.layout(node_.inputs[0]) == Layout::kChannelsLast,
                 out_cl, planner.conversion_scale());
    if (conv_.runs_channels_last()) {
      planner.set_layout(node_.outputs[0], Layout::kChannelsLast);
    }
  }
  void start_planning() override { conv_.unsettle(); }
  void finish_planning() override { conv_.finish(); }
  void prepare_batches(int64_t images) override {
    conv_.prepare_batches(images);
  }
  bool follows_input_layout() const override { return conv_.any_layout(); }
  std::optional<Layout> wanted_input_layout() const override {
    const std::optional<bool> cl = conv_.wants_channels_last();
    if (!cl) return std::nullopt;
    return *cl ? Layout::kChannelsLast : Layout::kRowMajor;
  }
  void run(RunContext& ctx) const override {
    const float* x = ctx.input(0, ctx.output_layout());
    const float* residual =
        ctx.has_input(1) ? ctx.input(1, ctx.output_layout()) : nullptr;
    conv_.run(x, ctx.input_shape(0), ctx.output(),
              ctx.output_layout() == Layout::kChannelsLast, ctx.threads(),
              residual);
  }

  void describe(LayerInfo* info) const override {
    // One choice for every batch: each image is its own product.
    info->kernels.push_back(
        {1, linear_kernel_name(conv_.kernel()), conv_.speedup()});
    describe_weights(graph_, node_, info);
  }
  void work(const std::vector<Shape>& shapes, double* /*rows*/,
            double* multiply_adds) const override {
    // Not for images whose size is only known at run time.
    const Shape& x = shapes[node_.inputs[0]];
    const Shape& declared = graph_.values[node_.inputs[0]].shape;
    if (x.size() == 4 && declared[2] > 0 && declared[3] > 0) {
      *multiply_adds = static_cast<double>(conv_.multiply_adds(x));
    }
  }
  double onednn_multiply_adds(const std::vector<Shape>& /*shapes*/,
                              double multiply_adds,
                              size_t /*rows*/) const override {
    return conv_.kernel() == LinearKernel::kOneDnn ? multiply_adds : 0.0;
  }
  void count_work(const std::vector<Shape>& shapes, double* flops,
                  std::string* kernel) const override {
    *flops +=
        2.0 * static_cast<double>(conv_.multiply_adds(shapes[node_.inputs[0]]));
    *kernel = linear_kernel_name(conv_.kernel());
  }

 private:
  ConvOp conv_;
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{1, 2, 1, 1, 2, false});
  if (activation_of(node.attrs) == kernels::Activation::kGelu) {
    throw Error(node_label(node) + " cannot fuse Gelu");
  }
  const WeightDesc& w = graph.weights[node.weights[0]];
  const SpatialParams p = spatial_params_of(node.attrs);
  if (p.rank != 2) {
    throw Error(node_label(node) + " has a " + std::to_string(p.rank) +
                "-D window; Conv is 2-D (3-D runs as Conv3d)");
  }
  const int64_t window = int64_t{p.kernel[0]} * p.kernel[1];
  if (w.shape.size() != 2 || w.shape[1] % window != 0 ||
      w.shape[0] % p.group != 0) {
    throw Error(node_label(node) + " weight '" + w.name + "' has shape " +
                to_string(w.shape) + ", expected [out, in/group · " +
                std::to_string(p.kernel[0]) + " · " +
                std::to_string(p.kernel[1]) + "] with out divisible by group " +
                std::to_string(p.group));
  }
  check_optional_bias(graph, node, w.shape[0]);
}

std::vector<Shape> shapes(const Graph& graph, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  if (x.size() != 4) {
    fail_node(node, "input must be NCHW [N, C, H, W], is " + to_string(x));
  }
  const SpatialParams p = spatial_params_of(node.attrs);
  const WeightDesc& w = graph.weights[node.weights[0]];
  const int64_t per_group = w.shape[1] / (int64_t{p.kernel[0]} * p.kernel[1]);
  if (x[1] >= 0 && x[1] != per_group * p.group) {
    fail_node(node, "input " + to_string(x) + " has " + std::to_string(x[1]) +
                        " channels, weight '" + w.name + "' expects " +
                        std::to_string(per_group * p.group));
  }
  Shape y = window_output_shape(node, p, x, w.shape[0]);
  if (inputs.size() > 1) {
    // Added elementwise: its shape is the output's (unknown dimensions
    // taken from either).
    const Shape& r = inputs[1];
    bool same = r.size() == 4;
    for (size_t k = 0; same && k < 4; ++k) {
      same = y[k] < 0 || r[k] < 0 || y[k] == r[k];
      if (y[k] < 0) y[k] = r[k];
    }
    if (!same) {
      fail_node(node, "residual input " + to_string(r) +
                          " does not have the output's shape " + to_string(y));
    }
  }
  return {y};
}

}  // namespace

extern const OpRule kConvRule = per_image(
    {check, shapes, create_op<ConvNode>, OutputMemory::kInPlaceResidual});

}  // namespace spruce
