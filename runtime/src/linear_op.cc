// Linear: kernel choice at load, OpenMP split by non-zeros at run.
#include "linear_op.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <random>

#include "kernel_timing.h"
#include "parallel.h"
#include "spruce/kernels/transpose.h"
#include "workspace.h"

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
                   kernels::Activation activation, bool x_feature_major,
                   bool y_feature_major, const LinearPlanOptions& options,
                   const dnnl::engine& engine)
    : out_(static_cast<size_t>(weight.shape[0])),
      in_(static_cast<size_t>(weight.shape[1])),
      bias_(bias != nullptr ? bias->values : nullptr),
      activation_(activation),
      x_feature_major_(x_feature_major),
      y_feature_major_(y_feature_major),
      panel_cols_(in_) {
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
    if (has_csr_ && in_ > kPanelColumns) make_panels(densified_);
  }
  dense_ =
      std::make_unique<DenseLinear>(engine, w, out_, in_, bias_, activation_,
                                    x_feature_major_, y_feature_major_);

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

// Splits W into column panels of equal width (a multiple of the block
// columns), each its own CSR (and BSR) matrix with panel-local indices.
void LinearOp::make_panels(const std::vector<float>& dense) {
  const size_t count = (in_ + kPanelColumns - 1) / kPanelColumns;
  const size_t align = has_bsr_ ? bsr_.block_cols : 1;
  panel_cols_ = ((in_ + count - 1) / count + align - 1) / align * align;
  std::vector<float> part;
  for (size_t c0 = 0; c0 < in_; c0 += panel_cols_) {
    const size_t cols = std::min(panel_cols_, in_ - c0);
    part.assign(out_ * cols, 0.0f);
    for (size_t r = 0; r < out_; ++r) {
      std::copy_n(dense.data() + r * in_ + c0, cols, part.data() + r * cols);
    }
    csr_panels_.push_back(CsrMatrix::from_dense(part.data(), out_, cols));
    if (has_bsr_) {
      bsr_panels_.push_back(BsrMatrix::from_dense(
          part.data(), out_, cols, bsr_.block_rows, bsr_.block_cols));
    }
  }
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
    std::vector<CsrMatrix>().swap(csr_panels_);
    has_csr_ = false;
  }
  if (!used(LinearKernel::kBsr)) {
    std::vector<BsrMatrix>().swap(bsr_panels_);
    has_bsr_ = false;
  }
}

size_t LinearOp::multiply_adds(size_t n) const {
  switch (choice(n).kernel) {
    case LinearKernel::kDense:
      return out_ * in_ * n;
    case LinearKernel::kCsr:
      return csr_.nnz() * n;
    case LinearKernel::kBsr:
      return bsr_.nnz_blocks() * bsr_.block_rows * bsr_.block_cols * n;
  }
  return 0;
}

void LinearOp::run(const float* x, size_t n, float* y, int num_threads) const {
  run_kernel(choice(n).kernel, x, n, y, num_threads);
}

// Wide inputs run one slice of columns (tokens) at a time, each slice of X
// copied into a contiguous feature-major buffer first: in place, X's rows
// are n floats apart, and with n a power of two (a batch of sequences) the
// same columns of every row map to the same few cache sets, so the slice
// would not stay in L2. Row-major X is transposed into the buffer instead.
// For a row-major Y, rows [row_begin, row_end) of the slice's output are
// computed into a tile and transposed into Y. For each slice, every panel
// of W in turn: the first adds the bias, the later ones accumulate, the
// last applies the activation.
// kernel(panel, x, ldx, width, y, ldy, epilogue) runs one panel on one slice.
// Panel p of `panels`: the first adds the bias, the later ones accumulate,
// the last applies the activation.
kernels::Epilogue LinearOp::epilogue_of(size_t p, size_t panels) const {
  return {p == 0 ? bias_ : nullptr,
          p + 1 == panels ? activation_ : kernels::Activation::kNone, p > 0};
}

template <class Kernel>
void LinearOp::run_sliced(size_t panels, const float* x, size_t n, float* y,
                          size_t row_begin, size_t row_end,
                          const Kernel& kernel) const {
  // One column is the same in both layouts.
  const bool x_rows = !x_feature_major_ && n > 1;
  const bool y_rows = !y_feature_major_ && n > 1;
  const size_t width = kernels::column_slice_width(panel_cols_);
  const size_t step = n <= width + width / 2 ? n : width;
  if (!x_rows && !y_rows && step == n) {
    for (size_t p = 0; p < panels; ++p) {
      kernel(p, x + p * panel_cols_ * n, n, n, y, n, epilogue_of(p, panels));
    }
    return;
  }
  float* slice =
      thread_workspace_as<float>(WorkspaceSlot::kLinearSlice, in_ * step);
  float* tile = y_rows ? thread_workspace_as<float>(WorkspaceSlot::kLinearTile,
                                                    out_ * step)
                       : nullptr;
  for (size_t j0 = 0; j0 < n; j0 += step) {
    const size_t w = std::min(step, n - j0);
    if (x_rows) {
      kernels::transpose(x + j0 * in_, w, in_, in_, slice, w);
    } else {
      for (size_t k = 0; k < in_; ++k) {
        std::memcpy(slice + k * w, x + k * n + j0, w * sizeof(float));
      }
    }
    float* out = y_rows ? tile : y + j0;
    const size_t ldy = y_rows ? w : n;
    for (size_t p = 0; p < panels; ++p) {
      kernel(p, slice + p * panel_cols_ * w, w, w, out, ldy,
             epilogue_of(p, panels));
    }
    if (y_rows) {
      kernels::transpose(tile + row_begin * w, row_end - row_begin, w, w,
                         y + j0 * out_ + row_begin, out_);
    }
  }
}

void LinearOp::run_kernel(LinearKernel kernel, const float* x, size_t n,
                          float* y, int num_threads) const {
  switch (kernel) {
    case LinearKernel::kDense:
      dense_->run(x, n, y);
      return;
    case LinearKernel::kCsr:
      run_chunks(csr_chunks_, csr_.nnz() * n, num_threads,
                 [&](size_t begin, size_t end) {
                   run_sliced(
                       std::max<size_t>(1, csr_panels_.size()), x, n, y, begin,
                       end,
                       [&](size_t p, const float* xp, size_t ldx, size_t w,
                           float* yp, size_t ldy, const kernels::Epilogue& e) {
                         kernels::spmm_csr_strided(
                             csr_panels_.empty() ? csr_ : csr_panels_[p].view(),
                             xp, ldx, w, yp, ldy, e, begin, end);
                       });
                 });
      return;
    case LinearKernel::kBsr:
      run_chunks(bsr_chunks_,
                 bsr_.nnz_blocks() * bsr_.block_rows * bsr_.block_cols * n,
                 num_threads, [&](size_t begin, size_t end) {
                   run_sliced(
                       std::max<size_t>(1, bsr_panels_.size()), x, n, y,
                       begin * bsr_.block_rows,
                       std::min(out_, end * bsr_.block_rows),
                       [&](size_t p, const float* xp, size_t ldx, size_t w,
                           float* yp, size_t ldy, const kernels::Epilogue& e) {
                         kernels::spmm_bsr_strided(
                             bsr_panels_.empty() ? bsr_ : bsr_panels_[p].view(),
                             xp, ldx, w, yp, ldy, e, begin, end);
                       });
                 });
      return;
  }
}

}  // namespace spruce
