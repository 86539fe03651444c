// Dense fully connected layer on oneDNN matmul, as PyTorch lays it out:
// Y[n × out] = act(X[n × in] · Wᵀ + bias), X and Y row-major, with W
// reordered once into the layout oneDNN's kernel for the shape prefers
// (weights format `any`), and bias and activation fused into the primitive.
//
// A primitive is created once per distinct n and cached (at most
// kMaxCachedShapes of them, so a stream of ever-new sequence lengths cannot
// grow memory without bound); the packed weights are kept per layout the
// primitives ask for (in practice one). Runs from many threads share them,
// each with its own scratchpad.
#ifndef SPRUCE_RUNTIME_DENSE_LINEAR_H_
#define SPRUCE_RUNTIME_DENSE_LINEAR_H_

#include <cstddef>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <utility>
#include <vector>

#include "primitive_cache.h"
#include "spruce/kernels/spmm.h"

namespace spruce {

class DenseLinear {
 public:
  // `weight` ([out × in], row-major) and `bias` ([out] or null) are borrowed
  // and must outlive this object.
  DenseLinear(const dnnl::engine& engine, const float* weight, size_t out,
              size_t in, const float* bias, kernels::Activation activation);

  void run(const float* x, size_t n, float* y) const;

 private:
  struct Compiled {
    dnnl::matmul primitive;
    dnnl::memory::desc x_desc, y_desc, bias_desc, scratchpad_desc;
    dnnl::memory weights;  // packed for this primitive
  };
  static constexpr size_t kMaxCachedShapes = 32;
  std::shared_ptr<const Compiled> compiled_for(size_t n) const;
  std::shared_ptr<const Compiled> compile(size_t n) const;
  dnnl::memory packed_weights(const dnnl::memory::desc& desc) const;

  dnnl::engine engine_;
  const float* weight_;
  size_t out_;
  size_t in_;
  const float* bias_;
  kernels::Activation activation_;
  PrimitiveCache<size_t, Compiled> cache_{kMaxCachedShapes};  // by batch
  // One per weights layout; grown only inside cache_.get (under its lock).
  mutable std::vector<dnnl::memory> packed_;
};

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_DENSE_LINEAR_H_
