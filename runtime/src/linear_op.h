// The Linear op as planned at load: a sparse Highway kernel over the CSR
// weight, or oneDNN dense matmul. Feature-major activations in and out:
// Y[out × n] = act(W · X[in × n] + bias).
#ifndef SPRUCE_RUNTIME_LINEAR_OP_H_
#define SPRUCE_RUNTIME_LINEAR_OP_H_

#include <cstddef>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include "dense_linear.h"
#include "graph.h"

namespace spruce {

class LinearOp {
 public:
  // Chooses the kernel: a CSR weight with at least `min_sparsity` zeros runs
  // sparse unless `force_dense`; everything else (dense, weakly sparse, BSR
  // until it has a kernel) runs on oneDNN. Sparse rows are split into
  // `max_threads` chunks of about equal non-zero count.
  LinearOp(const WeightDesc& weight, const WeightDesc* bias,
           kernels::Activation activation, bool force_dense,
           double min_sparsity, const dnnl::engine& engine, int max_threads);

  void run(const float* x, size_t n, float* y, int num_threads) const;

  bool sparse() const { return dense_ == nullptr; }
  size_t out_features() const { return out_; }
  size_t in_features() const { return in_; }

 private:
  size_t out_;
  size_t in_;
  const float* bias_;
  kernels::Activation activation_;
  kernels::CsrView csr_;
  std::vector<size_t> chunk_rows_;  // chunk i: rows [chunk_rows_[i], [i+1])
  std::vector<float> densified_;   // a sparse file weight forced dense
  std::unique_ptr<DenseLinear> dense_;
};

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_LINEAR_OP_H_
