// Linear: kernel choice at load, OpenMP split by non-zeros at run.
#include "linear_op.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <random>

#include "kernel_timing.h"
#include "parallel.h"

namespace spruce {

const char* linear_kernel_name(LinearKernel kernel) {
  switch (kernel) {
    case LinearKernel::kDense:
      return "onednn";
    case LinearKernel::kCsr:
      return "sparse-csr";
    case LinearKernel::kBsr:
      return "sparse-bsr";
  }
  return "?";
}

LinearOp::LinearOp(const WeightDesc& weight, const WeightDesc* bias,
                   kernels::Activation activation,
                   const LinearPlanOptions& options, const dnnl::engine& engine)
    : out_(static_cast<size_t>(weight.shape[0])),
      in_(static_cast<size_t>(weight.shape[1])),
      bias_(bias != nullptr ? bias->values : nullptr),
      activation_(activation) {
  const size_t threads = static_cast<size_t>(std::max(1, options.max_threads));
  if (!options.force_dense) {
    if (weight.layout == WeightLayout::kCsr) {
      csr_ = weight.csr;
      has_csr_ = true;
    } else if (weight.layout == WeightLayout::kBsr) {
      bsr_ = weight.bsr;
      has_bsr_ = true;
      // The same weight without the zeros inside blocks, as a candidate:
      // blocks that are mostly zero can run faster as CSR.
      const std::vector<float> dense = to_dense(bsr_);
      derived_csr_ = CsrMatrix::from_dense(dense.data(), out_, in_);
      csr_ = derived_csr_.view();
      has_csr_ = true;
      bsr_chunks_ = split_by_work(bsr_.row_ptr, bsr_.row_blocks(), threads);
    }
    if (has_csr_) csr_chunks_ = split_by_work(csr_.row_ptr, out_, threads);
  }
  const float* w = weight.values;
  if (weight.layout != WeightLayout::kDense) {
    densified_ = weight.to_dense();
    w = densified_.data();
  }
  dense_ =
      std::make_unique<DenseLinear>(engine, w, out_, in_, bias_, activation_);

  if (!has_csr_) return;  // dense weight, or forced dense
  if (options.measure) {
    choose_by_timing(options);
  } else if (weight.sparsity() >= options.min_sparsity) {
    const LinearKernel k = has_bsr_ ? LinearKernel::kBsr : LinearKernel::kCsr;
    narrow_ = wide_ = {k, 1.0};
  }
  release_unused();
}

// Times every candidate at one column and at kWideColumns on random inputs,
// with the threads runs will use, and keeps the fastest of each; the best
// of a few runs, after one warm-up, is what is compared.
void LinearOp::choose_by_timing(const LinearPlanOptions& options) {
  std::vector<LinearKernel> candidates{LinearKernel::kDense,
                                       LinearKernel::kCsr};
  if (has_bsr_) candidates.push_back(LinearKernel::kBsr);
  for (size_t n : {size_t{1}, kWideColumns}) {
    double dense_time = 0;
    Choice best;
    double best_time = std::numeric_limits<double>::infinity();
    for (LinearKernel k : candidates) {
      double t = time_kernel(k, n, options.max_threads);
      if (k == LinearKernel::kDense) {
        dense_time = t;
      } else {
        t *= kSparseMargin;
      }
      if (t < best_time) {
        best_time = t;
        best.kernel = k;
      }
    }
    best.speedup = best.kernel == LinearKernel::kDense
                       ? 1.0
                       : dense_time * kSparseMargin / best_time;
    (n == 1 ? narrow_ : wide_) = best;
  }
}

double LinearOp::time_kernel(LinearKernel kernel, size_t n,
                             int num_threads) const {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(in_ * n), y(out_ * n);
  for (float& v : x) v = u(rng);
  return best_time(
      [&] { run_kernel(kernel, x.data(), n, y.data(), num_threads); },
      std::chrono::milliseconds(2), 50);
}

// Frees the candidates no batch width will run.
void LinearOp::release_unused() {
  auto used = [this](LinearKernel k) {
    return narrow_.kernel == k || wide_.kernel == k;
  };
  if (!used(LinearKernel::kDense)) {
    dense_.reset();
    std::vector<float>().swap(densified_);
  }
  if (!used(LinearKernel::kCsr)) {
    derived_csr_ = CsrMatrix();
    has_csr_ = false;
  }
  if (!used(LinearKernel::kBsr)) has_bsr_ = false;
}

void LinearOp::run(const float* x, size_t n, float* y, int num_threads) const {
  run_kernel(choice(n).kernel, x, n, y, num_threads);
}

void LinearOp::run_kernel(LinearKernel kernel, const float* x, size_t n,
                          float* y, int num_threads) const {
  const kernels::Epilogue epilogue{bias_, activation_};
  switch (kernel) {
    case LinearKernel::kDense:
      dense_->run(x, n, y);
      return;
    case LinearKernel::kCsr:
      run_chunks(csr_chunks_, csr_.nnz() * n, num_threads,
                 [&](size_t begin, size_t end) {
                   kernels::spmm_csr(csr_, x, n, y, epilogue, begin, end);
                 });
      return;
    case LinearKernel::kBsr:
      run_chunks(bsr_chunks_,
                 bsr_.nnz_blocks() * bsr_.block_rows * bsr_.block_cols * n,
                 num_threads, [&](size_t begin, size_t end) {
                   kernels::spmm_bsr(bsr_, x, n, y, epilogue, begin, end);
                 });
      return;
  }
}

}  // namespace spruce
