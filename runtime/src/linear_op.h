// The Linear op as planned at load: oneDNN dense matmul, the CSR kernel or the
// BSR kernel, chosen per layer and per batch width by timing the candidates
// on the running CPU. Activations in and out are either feature-major,
// Y[out × n] = act(W · X[in × n] + bias), or row-major (what Transformer
// encoders use between Linears), Y[n × out] = act(X[n × in] · Wᵀ + bias);
// the sparse kernels read feature-major slices, transposed on the way in and
// out while they are in cache.
#ifndef SPRUCE_RUNTIME_LINEAR_OP_H_
#define SPRUCE_RUNTIME_LINEAR_OP_H_

#include <cstddef>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include "dense_linear.h"
#include "graph.h"
#include "spruce/sparse_matrix.h"

namespace spruce {

enum class LinearKernel : uint8_t { kDense, kCsr, kBsr };
const char* linear_kernel_name(LinearKernel kernel);

struct LinearPlanOptions {
  bool force_dense = false;
  // Time the candidates at load (true) or use the sparsity threshold.
  bool measure = true;
  double min_sparsity = 0.8;  // threshold mode only
  int max_threads = 1;
};

class LinearOp {
 public:
  // Batch widths below this run the kernel chosen for one column; wider ones
  // the kernel chosen for kWideColumns.
  static constexpr size_t kNarrowBelow = 8;
  static constexpr size_t kWideColumns = 64;

  // How one batch width will run, and how much faster than oneDNN dense that
  // was when measured at load (1 where dense was chosen or nothing measured).
  struct Choice {
    LinearKernel kernel = LinearKernel::kDense;
    double speedup = 1.0;
  };

  LinearOp(const WeightDesc& weight, const WeightDesc* bias,
           kernels::Activation activation, bool x_feature_major,
           bool y_feature_major, const LinearPlanOptions& options,
           const dnnl::engine& engine);

  void run(const float* x, size_t n, float* y, int num_threads) const;

  // Inputs wider than this run as column panels of W, each panel's product
  // added onto the last: a slice of X over one panel stays in the L2 cache
  // for enough columns to amortize each pass over W.
  static constexpr size_t kPanelColumns = 1024;

  const Choice& choice(size_t n) const {
    return n < kNarrowBelow ? narrow_ : wide_;
  }
  size_t out_features() const { return out_; }
  // Multiply-adds one run over n columns does with the kernel chosen for n:
  // the non-zeros (whole blocks for BSR) times n when sparse.
  size_t multiply_adds(size_t n) const;
  size_t in_features() const { return in_; }
  bool x_feature_major() const { return x_feature_major_; }
  bool y_feature_major() const { return y_feature_major_; }

 private:
  void run_kernel(LinearKernel kernel, const float* x, size_t n, float* y,
                  int num_threads) const;
  void choose_by_timing(const LinearPlanOptions& options);
  double time_kernel(LinearKernel kernel, size_t n, int num_threads) const;
  void release_unused();
  void make_panels(const std::vector<float>& dense);
  kernels::Epilogue epilogue_of(size_t panel, size_t panels) const;
  template <class Kernel>
  void run_sliced(size_t panels, const float* x, size_t n, float* y,
                  size_t row_begin, size_t row_end, const Kernel& kernel) const;

  size_t out_;
  size_t in_;
  const float* bias_;
  kernels::Activation activation_;
  bool x_feature_major_;
  bool y_feature_major_;
  bool has_csr_ = false;
  bool has_bsr_ = false;
  kernels::CsrView csr_;
  CsrMatrix derived_csr_;           // CSR made from a BSR weight at load
  std::vector<size_t> csr_chunks_;  // rows per thread, equal non-zeros
  kernels::BsrView bsr_;
  std::vector<size_t> bsr_chunks_;  // block rows per thread
  std::vector<float> densified_;    // a sparse weight expanded for oneDNN
  // With in_ > kPanelColumns: W's columns [k * panel_cols_, ...) as CSR and
  // (for a BSR weight) BSR matrices, used in place of csr_ and bsr_.
  size_t panel_cols_;  // in_ when there are no panels
  std::vector<CsrMatrix> csr_panels_;
  std::vector<BsrMatrix> bsr_panels_;
  std::unique_ptr<DenseLinear> dense_;
  Choice narrow_;
  Choice wide_;
};

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_LINEAR_OP_H_
