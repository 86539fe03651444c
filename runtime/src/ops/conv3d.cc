// Conv3d: a 3-D convolution of NCDHW activations (SpatialParams of rank 3,
// groups allowed) with a dense weight W [out, in/group, kd, kh, kw] and an
// optional bias [out], on oneDNN's convolution (weights reordered once per
// input shape into the layout it prefers). Dense only: spruce's sparse
// convolution kernels are 2-D.
#include <string>

#include "op_params.h"
#include "ops/op.h"
#include "primitive_cache.h"

namespace spruce {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

class Conv3dNode final : public NodeOp {
 public:
  explicit Conv3dNode(const OpInit& init)
      : NodeOp(init),
        p_(spatial_params_of(init.node.attrs)),
        engine_(init.engine) {}

  void run(RunContext& ctx) const override {
    const Shape& xs = ctx.input_shape(0);
    const std::shared_ptr<const Compiled> c =
        cache_.get(xs, [&] { return compile(xs); });
    std::unordered_map<int, dnnl::memory> args = {
        {DNNL_ARG_SRC,
         dnnl::memory(c->src, engine_, const_cast<float*>(ctx.input(0)))},
        {DNNL_ARG_WEIGHTS, c->weights},
        {DNNL_ARG_DST, dnnl::memory(c->dst, engine_, ctx.output())}};
    if (c->has_bias) args.emplace(DNNL_ARG_BIAS, c->bias);
    execute_primitive(c->primitive, engine_, std::move(args), c->scratchpad);
  }

 private:
  struct Compiled {
    dnnl::convolution_forward primitive;
    dnnl::memory::desc src, dst, scratchpad;
    dnnl::memory weights, bias;
    bool has_bias = false;
  };

  std::shared_ptr<const Compiled> compile(const Shape& xs) const {
    const WeightDesc& w = graph_.weights[node_.weights[0]];
    const Shape ys = window_output_shape(node_, p_, xs, w.shape[0]);
    auto c = std::make_shared<Compiled>();
    c->src = dnnl::memory::desc(dnnl::memory::dims(xs.begin(), xs.end()),
                                dt::f32, tag::ncdhw);
    c->dst = dnnl::memory::desc(dnnl::memory::dims(ys.begin(), ys.end()),
                                dt::f32, tag::ncdhw);
    const int64_t g = p_.group;
    dnnl::memory::dims w_dims(w.shape.begin(), w.shape.end());
    if (g > 1) {  // [g, out/g, in/g, kd, kh, kw]
      w_dims[0] /= g;
      w_dims.insert(w_dims.begin(), g);
    }
    const dnnl::memory::desc user_w(w_dims, dt::f32,
                                    g > 1 ? tag::goidhw : tag::oidhw);
    const dnnl::memory::desc any_w(w_dims, dt::f32, tag::any);
    c->has_bias = node_.weights.size() > 1;
    const dnnl::memory::desc bias({w.shape[0]}, dt::f32, tag::x);
    dnnl::memory::dims strides, dilates, pad_l, pad_r;
    for (uint32_t a = 0; a < 3; ++a) {
      strides.push_back(p_.strides[a]);
      dilates.push_back(p_.dilations[a] - 1);
      pad_l.push_back(p_.pads[a]);
      pad_r.push_back(p_.pads[a + 3]);
    }
    try {
      dnnl::primitive_attr attr;
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      const auto prop = dnnl::prop_kind::forward_inference;
      const auto alg = dnnl::algorithm::convolution_direct;
      const dnnl::convolution_forward::primitive_desc pd(
          c->has_bias ? dnnl::convolution_forward::desc(
                            prop, alg, c->src, any_w, bias, c->dst, strides,
                            dilates, pad_l, pad_r)
                      : dnnl::convolution_forward::desc(prop, alg, c->src,
                                                        any_w, c->dst, strides,
                                                        dilates, pad_l, pad_r),
          attr, engine_);
      c->primitive = dnnl::convolution_forward(pd);
      c->scratchpad = pd.scratchpad_desc();
      dnnl::stream stream(engine_);
      dnnl::memory from(user_w, engine_, const_cast<float*>(w.values));
      c->weights = dnnl::memory(pd.weights_desc(), engine_);
      dnnl::reorder(from, c->weights).execute(stream, from, c->weights);
      stream.wait();
      if (c->has_bias) {
        c->bias = dnnl::memory(
            bias, engine_,
            const_cast<float*>(graph_.weights[node_.weights[1]].values));
      }
    } catch (const dnnl::error& e) {
      throw Error(node_label(node_) + ": oneDNN convolution for input " +
                  to_string(xs) + ": " + e.what());
    }
    return c;
  }

  SpatialParams p_;
  dnnl::engine engine_;
  PrimitiveCache<Shape, Compiled> cache_{8};
};

void check(const Graph& graph, const NodeDesc& node) {
  check_arity(graph, node, Arity{1, 1, 1, 1, 2, true});
  const SpatialParams p = spatial_params_of(node.attrs);
  if (p.rank != 3) throw Error(node_label(node) + " needs a 3-D window");
  const WeightDesc& w = graph.weights[node.weights[0]];
  if (w.shape.size() != 5 || w.shape[0] % p.group != 0 ||
      w.shape[2] != p.kernel[0] || w.shape[3] != p.kernel[1] ||
      w.shape[4] != p.kernel[2]) {
    throw Error(node_label(node) + " weight '" + w.name + "' has shape " +
                to_string(w.shape) + ", expected [out, in/group, " +
                std::to_string(p.kernel[0]) + ", " +
                std::to_string(p.kernel[1]) + ", " +
                std::to_string(p.kernel[2]) + "]");
  }
  check_optional_bias(graph, node, w.shape[0]);
}

std::vector<Shape> shapes(const Graph& graph, const NodeDesc& node,
                          const std::vector<Shape>& inputs) {
  const Shape& x = inputs.at(0);
  const SpatialParams p = spatial_params_of(node.attrs);
  const WeightDesc& w = graph.weights[node.weights[0]];
  if (x.size() != 5 || (x[1] >= 0 && x[1] != w.shape[1] * p.group)) {
    fail_node(node, "input " + to_string(x) + " does not fit weight " +
                        to_string(w.shape) + " with group " +
                        std::to_string(p.group) + " (NCDHW)");
  }
  return {window_output_shape(node, p, x, w.shape[0])};
}

}  // namespace

extern const OpRule kConv3dRule =
    per_image({check, shapes, create_op<Conv3dNode>});

}  // namespace spruce
