// Linear: kernel choice at load, OpenMP split by non-zeros at run.
#include "linear_op.h"

#include <algorithm>

namespace spruce {
namespace {

// Below this many multiply-adds a parallel region costs more than it saves.
constexpr size_t kMinParallelWork = size_t{1} << 15;

// Row boundaries splitting `csr` into `chunks` runs of about equal non-zeros,
// so a skewed row distribution still keeps every thread busy.
std::vector<size_t> split_rows_by_nnz(const kernels::CsrView& csr,
                                      size_t chunks) {
  std::vector<size_t> bounds{0};
  const size_t nnz = csr.nnz();
  size_t row = 0;
  for (size_t c = 1; c < chunks; ++c) {
    const size_t target = nnz * c / chunks;
    while (row < csr.rows && csr.row_ptr[row] < target) ++row;
    if (row > bounds.back()) bounds.push_back(row);
  }
  if (bounds.back() != csr.rows || bounds.size() == 1)
    bounds.push_back(csr.rows);
  return bounds;
}

double csr_sparsity(const kernels::CsrView& csr) {
  const double total =
      static_cast<double>(csr.rows) * static_cast<double>(csr.cols);
  return total == 0 ? 0.0 : 1.0 - static_cast<double>(csr.nnz()) / total;
}

}  // namespace

LinearOp::LinearOp(const WeightDesc& weight, const WeightDesc* bias,
                   kernels::Activation activation, bool force_dense,
                   double min_sparsity, const dnnl::engine& engine,
                   int max_threads)
    : out_(static_cast<size_t>(weight.shape[0])),
      in_(static_cast<size_t>(weight.shape[1])),
      bias_(bias != nullptr ? bias->values : nullptr),
      activation_(activation) {
  const bool run_sparse = weight.layout == WeightLayout::kCsr && !force_dense &&
                          csr_sparsity(weight.csr) >= min_sparsity;
  if (run_sparse) {
    csr_ = weight.csr;
    chunk_rows_ =
        split_rows_by_nnz(csr_, static_cast<size_t>(std::max(1, max_threads)));
    return;
  }
  const float* w = weight.values;
  if (weight.layout != WeightLayout::kDense) {
    densified_ = weight.to_dense();
    w = densified_.data();
  }
  dense_ =
      std::make_unique<DenseLinear>(engine, w, out_, in_, bias_, activation_);
}

void LinearOp::run(const float* x, size_t n, float* y, int num_threads) const {
  if (dense_ != nullptr) {
    dense_->run(x, n, y);
    return;
  }
  const kernels::Epilogue epilogue{bias_, activation_};
  const auto chunks = static_cast<long>(chunk_rows_.size() - 1);
  if (num_threads <= 1 || chunks == 1 || csr_.nnz() * n < kMinParallelWork) {
    kernels::spmm_csr(csr_, x, n, y, epilogue, 0, out_);
    return;
  }
#pragma omp parallel for num_threads(num_threads) schedule(static, 1)
  for (long c = 0; c < chunks; ++c) {
    kernels::spmm_csr(csr_, x, n, y, epilogue, chunk_rows_[c],
                      chunk_rows_[c + 1]);
  }
}

}  // namespace spruce
