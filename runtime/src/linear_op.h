// The Linear op as planned at load: Y = act(X · Wᵀ + bias) with one of
//   onednn         oneDNN matmul, weights packed in its preferred layout
//   dense-packed   spruce's dense kernel for a few rows (W in panels)
//   sparse-lookup  rows as lanes, table lookups (a few rows)
//   sparse-csr     one broadcast and FMAs over the batch per non-zero
//   sparse-bsr     the same per block
// chosen per layer and per batch width by timing the candidates on the
// running CPU (kernel_choice.h), the two dense ones as the yardstick.
// Activations in and out are either row-major (X[n × in], Y[n × out], as a
// dense model lays them out) or feature-major (X[in × n], Y[out × n],
// between sparse Linears and LSTMs, where the CSR and BSR kernels read and
// write them without transposing); every kernel accepts both, transposing
// what it needs in cache.
#ifndef SPRUCE_RUNTIME_LINEAR_OP_H_
#define SPRUCE_RUNTIME_LINEAR_OP_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

#include "dense_linear.h"
#include "graph.h"
#include "kernel_choice.h"
#include "packed_weights.h"
#include "spruce/sparse_matrix.h"

namespace spruce {

enum class LinearKernel : uint8_t {
  kOneDnn,
  kDensePacked,
  kLookup,
  kCsr,
  kBsr,
  kDepthwise,  // Conv only: spruce's depthwise convolution (dense weights)
};
inline constexpr LinearKernel kLinearKernels[] = {
    LinearKernel::kOneDnn, LinearKernel::kDensePacked,
    LinearKernel::kLookup, LinearKernel::kCsr,
    LinearKernel::kBsr,    LinearKernel::kDepthwise};
const char* linear_kernel_name(LinearKernel kernel);
bool is_dense(LinearKernel kernel);

// A set of kernels, one bit per LinearKernel.
using KernelMask = uint32_t;
inline constexpr KernelMask kAllKernels = ~KernelMask{0};
constexpr KernelMask kernel_bit(LinearKernel kernel) {
  return KernelMask{1} << static_cast<unsigned>(kernel);
}
// The mask of kernels named in `names` (empty: all); throws spruce::Error
// naming an unknown one and the known ones.
KernelMask kernel_mask(const std::vector<std::string>& names);

struct LinearPlanOptions {
  bool force_dense = false;
  // Time the candidates at load (true) or use the sparsity threshold.
  bool measure = true;
  double min_sparsity = 0.8;  // threshold mode only
  int max_threads = 1;
  // The kernels that may run; a layer none of whose allowed kernels apply
  // runs oneDNN.
  KernelMask allowed = kAllKernels;
};

class LinearOp {
 public:
  // The small-batch kernels are timed, and run, up to these batch widths.
  static constexpr size_t kLookupMaxBatch = 8;
  static constexpr size_t kPackedMaxBatch = 16;
  // Inputs wider than this run the CSR and BSR kernels as column panels of
  // W, each panel's product added onto the last: a slice of X over one
  // panel stays in the L2 cache for enough columns to amortize each pass
  // over W.
  static constexpr size_t kPanelColumns = 1024;

  // Times the candidates with activations in the layouts given.
  LinearOp(const WeightDesc& weight, const WeightDesc* bias,
           kernels::Activation activation, bool x_feature_major,
           bool y_feature_major, const LinearPlanOptions& options,
           const dnnl::engine& engine);

  // The layouts runs will use, once the plan has settled them.
  void set_layouts(bool x_feature_major, bool y_feature_major) {
    x_feature_major_ = x_feature_major;
    y_feature_major_ = y_feature_major;
  }

  void run(const float* x, size_t n, float* y, int num_threads) const;

  const KernelChoice<LinearKernel>& choice() const { return choice_; }
  LinearKernel kernel_for(size_t n) const { return choice_.at(n).kernel; }
  // Whether wide batches run a kernel that reads and writes feature-major
  // activations without transposing (CSR or BSR).
  bool prefers_feature_major() const;
  size_t out_features() const { return out_; }
  size_t in_features() const { return in_; }
  // Multiply-adds one run over n columns does with the kernel chosen for n:
  // the non-zeros (whole blocks for BSR) times n when sparse.
  size_t multiply_adds(size_t n) const;
  bool x_feature_major() const { return x_feature_major_; }
  bool y_feature_major() const { return y_feature_major_; }

 private:
  std::vector<Candidate<LinearKernel>> candidates(
      const LinearPlanOptions& options) const;
  void run_kernel(LinearKernel kernel, const float* x, size_t n, float* y,
                  int num_threads) const;
  void run_rows(LinearKernel kernel, const float* x, size_t n, float* y,
                int num_threads) const;
  double time_kernel(LinearKernel kernel, size_t n, int num_threads) const;
  void release_unused();
  void make_panels(const std::vector<float>& dense);
  kernels::Epilogue epilogue_of(size_t panel, size_t panels) const;
  template <class Kernel>
  void run_sliced(const std::vector<size_t>& chunks, size_t work,
                  size_t rows_per_unit, size_t panels, const float* x,
                  size_t n, float* y, int num_threads,
                  const Kernel& kernel) const;

  size_t out_;
  size_t in_;
  const float* bias_;
  kernels::Activation activation_;
  bool x_feature_major_;
  bool y_feature_major_;
  bool has_csr_ = false;
  bool has_bsr_ = false;
  // The weight's CSR form: the file's, or derived_csr_ for a BSR weight
  // (freed, like the view, when no batch runs CSR).
  kernels::CsrView csr_;
  size_t nonzeros_ = 0;             // csr_'s, kept
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
  std::unique_ptr<PackedDense> packed_;
  std::vector<size_t> packed_chunks_;  // panels per thread
  std::unique_ptr<LookupMatrix> lookup_;
  std::vector<size_t> lookup_chunks_;  // row groups per thread, equal slots
  KernelChoice<LinearKernel> choice_;
};

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_LINEAR_OP_H_
