// Dense fully connected layer on oneDNN matmul, with input and output each in
// either activation layout: feature-major (X[in × n], Y[out × n]) or
// row-major (X[n × in], Y[n × out]); Y = act(W[out × in] · X + bias).
//
// A primitive is created once per distinct n (batch × tokens) and cached (at
// most kMaxCachedShapes of them, so a stream of ever-new sequence lengths
// cannot grow memory without bound); runs from many threads share it, each
// with its own scratchpad.
#ifndef SPRUCE_RUNTIME_DENSE_LINEAR_H_
#define SPRUCE_RUNTIME_DENSE_LINEAR_H_

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <utility>

#include "spruce/kernels/spmm.h"

namespace spruce {

class DenseLinear {
 public:
  // `weight` ([out × in], row-major) and `bias` ([out] or null) are borrowed
  // and must outlive this object.
  DenseLinear(const dnnl::engine& engine, const float* weight, size_t out,
              size_t in, const float* bias, kernels::Activation activation,
              bool x_feature_major, bool y_feature_major);

  void run(const float* x, size_t n, float* y) const;

 private:
  struct Compiled {
    dnnl::matmul primitive;
    dnnl::memory::desc weight_desc, x_desc, y_desc, bias_desc, scratchpad_desc;
  };
  static constexpr size_t kMaxCachedShapes = 32;
  std::shared_ptr<const Compiled> compiled_for(size_t n) const;

  dnnl::engine engine_;
  const float* weight_;
  size_t out_;
  size_t in_;
  const float* bias_;
  kernels::Activation activation_;
  bool x_feature_major_;
  bool y_feature_major_;
  mutable std::mutex mutex_;
  // By batch width and primitive_threads().
  mutable std::map<std::pair<size_t, int>, std::shared_ptr<const Compiled>>
      cache_;
};

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_DENSE_LINEAR_H_
