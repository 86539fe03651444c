#include "primitive_cache.h"

#include "spruce/kernels/epilogue.h"

namespace spruce {

kernels::Activation activation_after_onednn(kernels::Activation activation) {
  return activation == kernels::Activation::kSilu ||
                 activation == kernels::Activation::kSigmoid
             ? activation
             : kernels::Activation::kNone;
}

void apply_activation_after_onednn(kernels::Activation activation, float* y,
                                   size_t count, int num_threads) {
  const kernels::Activation after = activation_after_onednn(activation);
  if (after == kernels::Activation::kNone) return;
  run_chunks(
      split_evenly(count, chunk_threads(num_threads)), count, num_threads,
      [&](size_t begin, size_t end) {
        kernels::apply_epilogue(y + begin, 1, end - begin, {nullptr, after});
      });
}

bool append_activation(kernels::Activation activation, dnnl::post_ops* ops) {
  using alg = dnnl::algorithm;
  switch (activation) {
    case kernels::Activation::kNone:
    case kernels::Activation::kSilu:     // activation_after_onednn
    case kernels::Activation::kSigmoid:  // activation_after_onednn
      return false;
    case kernels::Activation::kRelu:
      ops->append_eltwise(1.0f, alg::eltwise_relu, 0.0f, 0.0f);
      return true;
    case kernels::Activation::kGelu:
      ops->append_eltwise(1.0f, alg::eltwise_gelu_erf, 0.0f, 0.0f);
      return true;
    case kernels::Activation::kTanh:
      ops->append_eltwise(1.0f, alg::eltwise_tanh, 0.0f, 0.0f);
      return true;
    case kernels::Activation::kRelu6:
      ops->append_eltwise(1.0f, alg::eltwise_clip, 0.0f, 6.0f);
      return true;
    case kernels::Activation::kHardSwish:
      ops->append_eltwise(1.0f, alg::eltwise_hardswish, 0.0f, 0.0f);
      return true;
    case kernels::Activation::kHardSigmoid:
      // oneDNN 2.6 has no hardsigmoid: x / 6 + 1/2, then clipped to [0, 1].
      ops->append_eltwise(1.0f, alg::eltwise_linear, 1.0f / 6.0f, 0.5f);
      ops->append_eltwise(1.0f, alg::eltwise_clip, 0.0f, 1.0f);
      return true;
  }
  return false;
}

}  // namespace spruce
