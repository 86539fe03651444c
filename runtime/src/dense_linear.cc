// oneDNN 2.6 matmul (describe once, create once per shape, execute many
// times).
// Feature-major output: W is oneDNN's "src" (M = out, K = in) and the
// activations its "weights" (K = in, N = n; format ba when row-major), so W
// is read as stored. The bias is per row of dst there, a broadcast for which
// oneDNN 2.6 falls back to its reference kernel (measured: 100x slower), so
// the primitive computes the bare product and kernels::apply_epilogue adds
// bias and activation.
// Row-major output: the activations are "src" (M = n; format ba when
// feature-major), W read as its transpose (K = in, N = out, format ba) is
// "weights", and bias and activation are fused into the primitive (bias per
// column of dst, the fast case).
#include "dense_linear.h"

#include <vector>

#include "parallel.h"
#include "spruce/error.h"
#include "spruce/kernels/epilogue.h"
#include "workspace.h"

namespace spruce {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

DenseLinear::DenseLinear(const dnnl::engine& engine, const float* weight,
                         size_t out, size_t in, const float* bias,
                         kernels::Activation activation, bool x_feature_major,
                         bool y_feature_major)
    : engine_(engine),
      weight_(weight),
      out_(out),
      in_(in),
      bias_(bias),
      activation_(activation),
      x_feature_major_(x_feature_major),
      y_feature_major_(y_feature_major) {}

namespace {

// The post-op computing `activation`; false for none.
bool append_activation(kernels::Activation activation, dnnl::post_ops* ops) {
  using alg = dnnl::algorithm;
  switch (activation) {
    case kernels::Activation::kNone:
      return false;
    case kernels::Activation::kRelu:
      ops->append_eltwise(1.0f, alg::eltwise_relu, 0.0f, 0.0f);
      return true;
    case kernels::Activation::kGelu:
      ops->append_eltwise(1.0f, alg::eltwise_gelu_erf, 0.0f, 0.0f);
      return true;
    case kernels::Activation::kSigmoid:
      ops->append_eltwise(1.0f, alg::eltwise_logistic, 0.0f, 0.0f);
      return true;
    case kernels::Activation::kTanh:
      ops->append_eltwise(1.0f, alg::eltwise_tanh, 0.0f, 0.0f);
      return true;
    case kernels::Activation::kRelu6:
      ops->append_eltwise(1.0f, alg::eltwise_clip, 0.0f, 6.0f);
      return true;
  }
  return false;
}

}  // namespace

std::shared_ptr<const DenseLinear::Compiled> DenseLinear::compiled_for(
    size_t n) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto key = std::make_pair(n, primitive_threads());
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;

  const auto m = static_cast<dnnl::memory::dim>(out_);
  const auto k = static_cast<dnnl::memory::dim>(in_);
  const auto nn = static_cast<dnnl::memory::dim>(n);
  auto c = std::make_shared<Compiled>();
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (y_feature_major_) {
    c->weight_desc = dnnl::memory::desc({m, k}, dt::f32, tag::ab);
    c->x_desc = dnnl::memory::desc({k, nn}, dt::f32,
                                   x_feature_major_ ? tag::ab : tag::ba);
    c->y_desc = dnnl::memory::desc({m, nn}, dt::f32, tag::ab);
  } else {
    c->weight_desc = dnnl::memory::desc({k, m}, dt::f32, tag::ba);
    c->x_desc = dnnl::memory::desc({nn, k}, dt::f32,
                                   x_feature_major_ ? tag::ba : tag::ab);
    c->y_desc = dnnl::memory::desc({nn, m}, dt::f32, tag::ab);
    if (bias_ != nullptr) {
      c->bias_desc = dnnl::memory::desc({1, m}, dt::f32, tag::ab);
    }
    dnnl::post_ops ops;
    if (append_activation(activation_, &ops)) attr.set_post_ops(ops);
  }
  try {
    const dnnl::matmul::desc desc =
        y_feature_major_
            ? dnnl::matmul::desc(c->weight_desc, c->x_desc, c->y_desc)
        : bias_ != nullptr
            ? dnnl::matmul::desc(c->x_desc, c->weight_desc, c->bias_desc,
                                 c->y_desc)
            : dnnl::matmul::desc(c->x_desc, c->weight_desc, c->y_desc);
    const dnnl::matmul::primitive_desc pd(desc, attr, engine_);
    c->scratchpad_desc = pd.scratchpad_desc();
    c->primitive = dnnl::matmul(pd);
  } catch (const dnnl::error& e) {
    throw Error(std::string("oneDNN matmul ") + std::to_string(out_) + "x" +
                std::to_string(in_) + " for n=" + std::to_string(n) + ": " +
                e.what());
  }
  // Runs still using an evicted primitive hold their own reference to it.
  if (cache_.size() >= kMaxCachedShapes) cache_.erase(cache_.begin());
  return cache_.emplace(key, std::move(c)).first->second;
}

void DenseLinear::run(const float* x, size_t n, float* y) const {
  const std::shared_ptr<const Compiled> compiled = compiled_for(n);
  const Compiled& c = *compiled;
  // oneDNN takes non-const handles; it only reads src, weights and bias.
  dnnl::memory w_mem(c.weight_desc, engine_, const_cast<float*>(weight_));
  dnnl::memory x_mem(c.x_desc, engine_, const_cast<float*>(x));
  dnnl::memory y_mem(c.y_desc, engine_, y);
  const size_t scratch_bytes = c.scratchpad_desc.get_size();
  std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_DST, y_mem}};
  if (y_feature_major_) {
    args.emplace(DNNL_ARG_SRC, w_mem);
    args.emplace(DNNL_ARG_WEIGHTS, x_mem);
  } else {
    args.emplace(DNNL_ARG_SRC, x_mem);
    args.emplace(DNNL_ARG_WEIGHTS, w_mem);
    if (bias_ != nullptr) {
      args.emplace(DNNL_ARG_BIAS, dnnl::memory(c.bias_desc, engine_,
                                               const_cast<float*>(bias_)));
    }
  }
  if (scratch_bytes > 0) {
    args.emplace(DNNL_ARG_SCRATCHPAD,
                 dnnl::memory(c.scratchpad_desc, engine_,
                              thread_workspace(WorkspaceSlot::kScratchpad,
                                               scratch_bytes)));
  }
  dnnl::stream stream(engine_);
  c.primitive.execute(stream, args);
  stream.wait();
  if (y_feature_major_) {
    kernels::apply_epilogue(y, out_, n, {bias_, activation_});
  }
}

}  // namespace spruce
