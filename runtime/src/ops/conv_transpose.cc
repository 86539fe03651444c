// ConvTranspose: the transposed 2-D convolution of x [N, C, H, W] on
// oneDNN's deconvolution, NCHW in and out; weights: W [C, O/group, kh, kw]
// (ONNX's layout) and an optional bias [O]. Attributes: "kernel",
// "strides", "pads" (top, left, bottom, right), "dilations", "group" as
// for Conv, and "output_padding" (h, w): extra cells at the end.
#include "ops/op.h"
#include "primitive_cache.h"

namespace spruce {
namespace {

struct Geometry {
  int64_t kernel[2], strides[2], pads[4], dilations[2], output_padding[2];
  int64_t group;
};

Geometry geometry_of(const Attributes& attrs) {
  Geometry g;
  auto read = [&](const char* name, size_t count, int64_t fallback, int64_t min,
                  int64_t max, int64_t* out) {
    const std::vector<int64_t>& v = attrs.get_ints(name);
    if (!v.empty() && v.size() != count) {
      throw Error("attribute '" + std::string(name) + "' needs " +
                  std::to_string(count) + " values");
    }
    for (size_t k = 0; k < count; ++k) {
      out[k] = v.empty() ? fallback : v[k];
      if (out[k] < min || out[k] > max) {
        throw Error("attribute '" + std::string(name) + "' has " +
                    std::to_string(out[k]));
      }
    }
  };
  read("kernel", 2, 0, 1, 1 << 12, g.kernel);
  read("strides", 2, 1, 1, 1 << 12, g.strides);
  read("pads", 4, 0, 0, 1 << 16, g.pads);
  read("dilations", 2, 1, 1, 1 << 12, g.dilations);
  read("output_padding", 2, 0, 0, 1 << 12, g.output_padding);
  g.group = attrs.get_int_in("group", 1, 1, 1 << 20);
  return g;
}

int64_t output_size(const Geometry& g, int a, int64_t in) {
  if (in < 0) return -1;
  return g.strides[a] * (in - 1) + g.output_padding[a] +
         (g.kernel[a] - 1) * g.dilations[a] + 1 - g.pads[a] - g.pads[a + 2];
}

class ConvTransposeNode final : public NodeOp {
 public:
  explicit ConvTransposeNode(const OpInit& init)
      : NodeOp(init),
        g_(geometry_of(init.node.attrs)),
        engine_(init.engine),
        weight_(init.graph.weights[init.node.weights[0]]),
        bias_(init.node.weights.size() > 1
                  ? init.graph.weights[init.node.weights[1]].values
                  : nullptr) {}

  void run(RunContext& ctx) const override {
    const Shape& xs = ctx.input_shape(0);
    const std::shared_ptr<const Compiled> c =
        cache_.get(xs, [&] { return compile(xs, ctx.output_shape()); });
    std::unordered_map<int, dnnl::memory> args = {
        {DNNL_ARG_SRC,
         dnnl::memory(c->src, engine_, const_cast<float*>(ctx.input(0)))},
        {DNNL_ARG_WEIGHTS, c->weights},
        {DNNL_ARG_DST, dnnl::memory(c->dst, engine_, ctx.output())}};
    if (bias_ != nullptr) {
      args.emplace(DNNL_ARG_BIAS,
                   dnnl::memory(c->bias, engine_, const_cast<float*>(bias_)));
    }
    execute_primitive(c->primitive, engine_, std::move(args), c->scratchpad);
  }

 private:
  struct Compiled {
    dnnl::deconvolution_forward primitive;
    dnnl::memory::desc src, dst, bias, scratchpad;
    dnnl::memory weights;  // in the primitive's layout
  };

  std::shared_ptr<const Compiled> compile(const Shape& xs,
                                          const Shape& ys) const {
    using tag = dnnl::memory::format_tag;
    using dt = dnnl::memory::data_type;
    const Shape& w = weight_.shape;  // [C, O/group, kh, kw]
    const int64_t out_per_group = w[1];
    auto c = std::make_shared<Compiled>();
    c->src =
        dnnl::memory::desc({xs[0], xs[1], xs[2], xs[3]}, dt::f32, tag::nchw);
    c->dst =
        dnnl::memory::desc({ys[0], ys[1], ys[2], ys[3]}, dt::f32, tag::nchw);
    c->bias = dnnl::memory::desc({ys[1]}, dt::f32, tag::x);
    const dnnl::memory::dims w_dims =
        g_.group == 1 ? dnnl::memory::dims{out_per_group, w[0], w[2], w[3]}
                      : dnnl::memory::dims{g_.group, out_per_group,
                                           w[0] / g_.group, w[2], w[3]};
    const dnnl::memory::desc w_user(w_dims, dt::f32,
                                    g_.group == 1 ? tag::iohw : tag::giohw);
    const dnnl::memory::desc w_any(w_dims, dt::f32, tag::any);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    try {
      const dnnl::memory::dims strides = {g_.strides[0], g_.strides[1]};
      const dnnl::memory::dims dilates = {g_.dilations[0] - 1,
                                          g_.dilations[1] - 1};
      const dnnl::memory::dims pad_l = {g_.pads[0], g_.pads[1]};
      // oneDNN sizes the output from the pads: output_padding is less
      // padding at the end.
      const dnnl::memory::dims pad_r = {g_.pads[2] - g_.output_padding[0],
                                        g_.pads[3] - g_.output_padding[1]};
      const dnnl::memory::desc no_bias;
      const dnnl::deconvolution_forward::desc desc(
          dnnl::prop_kind::forward_inference,
          dnnl::algorithm::deconvolution_direct, c->src, w_any,
          bias_ != nullptr ? c->bias : no_bias, c->dst, strides, dilates, pad_l,
          pad_r);
      const dnnl::deconvolution_forward::primitive_desc pd(desc, attr, engine_);
      c->scratchpad = pd.scratchpad_desc();
      c->primitive = dnnl::deconvolution_forward(pd);
      dnnl::memory user(w_user, engine_, const_cast<float*>(weight_.values));
      c->weights = dnnl::memory(pd.weights_desc(), engine_);
      dnnl::stream stream(engine_);
      dnnl::reorder(user, c->weights).execute(stream, user, c->weights);
      stream.wait();
    } catch (const dnnl::error& e) {
      throw Error(node_label(node_) + ": oneDNN deconvolution for input " +
                  to_string(xs) + ": " + e.what());
    }
    return c;
  }

  Geometry g_;
  dnnl::engine engine_;
  const WeightDesc& weight_;
  const float* bias_;
  PrimitiveCache<Shape, Compiled> cache_{8};
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{1, 1, 1, 1, 2});
  const Geometry g = geometry_of(node.attrs);
  const Shape& w = graph.weights[node.weights[0]].shape;
  if (w.size() != 4 || w[0] % g.group != 0 || w[2] != g.kernel[0] ||
      w[3] != g.kernel[1]) {
    throw Error(node_label(node) + " weight has shape " + to_string(w) +
                ", expected [C, O/group, " + std::to_string(g.kernel[0]) +
                ", " + std::to_string(g.kernel[1]) + "]");
  }
  if (node.weights.size() == 2 &&
      graph.weights[node.weights[1]].shape != Shape{w[1] * g.group}) {
    throw Error(node_label(node) + " bias must be [" +
                std::to_string(w[1] * g.group) + "]");
  }
  for (int a = 0; a < 2; ++a) {
    if (g.output_padding[a] >= std::max(g.strides[a], g.dilations[a]) ||
        g.output_padding[a] > g.pads[a + 2] + g.output_padding[a]) {
      throw Error(node_label(node) + " has output_padding " +
                  std::to_string(g.output_padding[a]));
    }
  }
}

std::vector<Shape> shapes(const Graph& graph, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  const Shape& w = graph.weights[node.weights[0]].shape;
  const Geometry g = geometry_of(node.attrs);
  if (x.size() != 4 || (x[1] >= 0 && x[1] != w[0])) {
    fail_node(node, "input must be NCHW with " + std::to_string(w[0]) +
                        " channels, is " + to_string(x));
  }
  Shape y = {x[0], w[1] * g.group, output_size(g, 0, x[2]),
             output_size(g, 1, x[3])};
  if ((x[2] >= 0 && y[2] < 1) || (x[3] >= 0 && y[3] < 1)) {
    fail_node(node, "output of " + to_string(x) + " would be empty");
  }
  return {y};
}

}  // namespace

extern const OpRule kConvTransposeRule =
    per_image({check, shapes, create_op<ConvTransposeNode>});

}  // namespace spruce
