// oneDNN 2.6 matmul: describe once, create once per shape, execute many
// times. src = X [n × in], weights = Wᵀ [in × out] (W as stored is Wᵀ in
// format ba), dst = Y [n × out]; the bias is per column of dst, the case
// oneDNN's brgemm kernels fuse.
#include "dense_linear.h"

#include <string>

#include "parallel.h"
#include "spruce/error.h"
#include "workspace.h"

namespace spruce {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

DenseLinear::DenseLinear(const dnnl::engine& engine, const float* weight,
                         size_t out, size_t in, const float* bias,
                         kernels::Activation activation)
    : engine_(engine),
      weight_(weight),
      out_(out),
      in_(in),
      bias_(bias),
      activation_(activation) {}


// Called inside cache_.get, under its lock.
dnnl::memory DenseLinear::packed_weights(const dnnl::memory::desc& desc) const {
  for (const dnnl::memory& m : packed_) {
    if (m.get_desc() == desc) return m;
  }
  const auto k = static_cast<dnnl::memory::dim>(in_);
  const auto m = static_cast<dnnl::memory::dim>(out_);
  dnnl::memory source(dnnl::memory::desc({k, m}, dt::f32, tag::ba), engine_,
                      const_cast<float*>(weight_));
  dnnl::memory packed(desc, engine_);
  dnnl::stream stream(engine_);
  dnnl::reorder(source, packed).execute(stream, source, packed);
  stream.wait();
  packed_.push_back(packed);
  return packed;
}

std::shared_ptr<const DenseLinear::Compiled> DenseLinear::compiled_for(
    size_t n) const {
  return cache_.get(n, [&] { return compile(n); });
}

std::shared_ptr<const DenseLinear::Compiled> DenseLinear::compile(
    size_t n) const {
  const auto m = static_cast<dnnl::memory::dim>(out_);
  const auto k = static_cast<dnnl::memory::dim>(in_);
  const auto nn = static_cast<dnnl::memory::dim>(n);
  auto c = std::make_shared<Compiled>();
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops ops;
  if (append_activation(activation_, &ops)) attr.set_post_ops(ops);
  c->x_desc = dnnl::memory::desc({nn, k}, dt::f32, tag::ab);
  c->y_desc = dnnl::memory::desc({nn, m}, dt::f32, tag::ab);
  const dnnl::memory::desc any_weights({k, m}, dt::f32, tag::any);
  if (bias_ != nullptr) {
    c->bias_desc = dnnl::memory::desc({1, m}, dt::f32, tag::ab);
  }
  try {
    const dnnl::matmul::desc desc =
        bias_ != nullptr ? dnnl::matmul::desc(c->x_desc, any_weights,
                                              c->bias_desc, c->y_desc)
                         : dnnl::matmul::desc(c->x_desc, any_weights, c->y_desc);
    const dnnl::matmul::primitive_desc pd(desc, attr, engine_);
    c->scratchpad_desc = pd.scratchpad_desc();
    c->primitive = dnnl::matmul(pd);
    c->weights = packed_weights(pd.weights_desc());
  } catch (const dnnl::error& e) {
    throw Error(std::string("oneDNN matmul ") + std::to_string(out_) + "x" +
                std::to_string(in_) + " for n=" + std::to_string(n) + ": " +
                e.what());
  }
  return c;
}

void DenseLinear::run(const float* x, size_t n, float* y) const {
  const std::shared_ptr<const Compiled> compiled = compiled_for(n);
  const Compiled& c = *compiled;
  // oneDNN takes non-const handles; it only reads src, weights and bias.
  std::unordered_map<int, dnnl::memory> args = {
      {DNNL_ARG_SRC, dnnl::memory(c.x_desc, engine_, const_cast<float*>(x))},
      {DNNL_ARG_WEIGHTS, c.weights},
      {DNNL_ARG_DST, dnnl::memory(c.y_desc, engine_, y)}};
  if (bias_ != nullptr) {
    args.emplace(DNNL_ARG_BIAS, dnnl::memory(c.bias_desc, engine_,
                                             const_cast<float*>(bias_)));
  }
  execute_primitive(c.primitive, engine_, std::move(args), c.scratchpad_desc);
  apply_activation_after_onednn(activation_, y, n * out_, 1);
}

}  // namespace spruce
