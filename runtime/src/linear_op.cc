// Linear: candidates and their timing at load, OpenMP split by work at run.
#include "linear_op.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <random>

#include "parallel.h"
#include "spruce/error.h"
#include "spruce/kernels/transpose.h"
#include "workspace.h"

namespace spruce {

const char* linear_kernel_name(LinearKernel kernel) {
  switch (kernel) {
    case LinearKernel::kOneDnn:
      return "onednn";
    case LinearKernel::kDensePacked:
      return "dense-packed";
    case LinearKernel::kLookup:
      return "sparse-lookup";
    case LinearKernel::kCsr:
      return "sparse-csr";
    case LinearKernel::kBsr:
      return "sparse-bsr";
    case LinearKernel::kDepthwise:
      return "depthwise";
  }
  return "?";
}

bool is_dense(LinearKernel kernel) {
  return kernel == LinearKernel::kOneDnn ||
         kernel == LinearKernel::kDensePacked ||
         kernel == LinearKernel::kDepthwise;
}

KernelMask kernel_mask(const std::vector<std::string>& names) {
  if (names.empty()) return kAllKernels;
  KernelMask mask = 0;
  for (const std::string& name : names) {
    const auto* it = std::find_if(
        std::begin(kLinearKernels), std::end(kLinearKernels),
        [&](LinearKernel k) { return name == linear_kernel_name(k); });
    if (it == std::end(kLinearKernels)) {
      std::string known;
      for (LinearKernel k : kLinearKernels) {
        known += std::string(known.empty() ? "" : ", ") + linear_kernel_name(k);
      }
      throw Error("unknown kernel '" + name + "'; spruce's kernels are " +
                  known);
    }
    mask |= kernel_bit(*it);
  }
  return mask;
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
  const auto threads = static_cast<size_t>(std::max(1, options.max_threads));
  const bool sparse_allowed =
      !options.force_dense &&
      (options.allowed & (kernel_bit(LinearKernel::kLookup) |
                          kernel_bit(LinearKernel::kCsr) |
                          kernel_bit(LinearKernel::kBsr))) != 0;
  if (sparse_allowed) {
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
    if (has_csr_) {
      csr_chunks_ = split_by_work(csr_.row_ptr, out_, threads);
      nonzeros_ = csr_.nnz();
    }
  }
  const std::vector<Candidate<LinearKernel>> list = candidates(options);
  auto listed = [&](LinearKernel k) {
    return std::any_of(list.begin(), list.end(),
                       [&](const auto& c) { return c.kernel == k; });
  };
  const float* w = weight.values;
  if (weight.layout != WeightLayout::kDense &&
      (listed(LinearKernel::kOneDnn) || listed(LinearKernel::kDensePacked) ||
       (has_csr_ && in_ > kPanelColumns))) {
    densified_ = weight.to_dense();
    w = densified_.data();
    if (has_csr_ && in_ > kPanelColumns) make_panels(densified_);
  }
  if (listed(LinearKernel::kOneDnn)) {
    dense_ = std::make_unique<DenseLinear>(engine, w, out_, in_, bias_,
                                           activation_);
  }
  if (listed(LinearKernel::kDensePacked)) {
    packed_ = std::make_unique<PackedDense>(w, out_, in_);
    packed_chunks_ = split_evenly(packed_->view().panel_count(), threads);
  }
  if (listed(LinearKernel::kLookup)) {
    lookup_ = std::make_unique<LookupMatrix>(csr_);
    lookup_chunks_ =
        split_by_work(lookup_->slots_before_group().data(),
                      lookup_->view().groups(), threads);
  }
  if (options.measure && list.size() > 1) {
    choice_.choose(list, {std::begin(kBatchProbes), std::end(kBatchProbes)},
                   [&](LinearKernel k, size_t n) {
                     return time_kernel(k, n, options.max_threads);
                   });
  } else if (!options.measure && has_csr_ &&
             weight.sparsity() >= options.min_sparsity) {
    // Threshold mode: the stored format, for every batch.
    const LinearKernel k = has_bsr_ && listed(LinearKernel::kBsr)
                               ? LinearKernel::kBsr
                           : listed(LinearKernel::kCsr) ? LinearKernel::kCsr
                                                        : list.front().kernel;
    choice_.fix(k);
  } else {
    choice_.fix(list.empty() ? LinearKernel::kOneDnn : list.front().kernel);
  }
  release_unused();
}

// The allowed implementations this weight has, in order: the dense ones
// (the yardstick), then the sparse ones its storage gives.
std::vector<Candidate<LinearKernel>> LinearOp::candidates(
    const LinearPlanOptions& options) const {
  std::vector<Candidate<LinearKernel>> list;
  auto add = [&](LinearKernel k, bool available, size_t max_batch) {
    if (available && (options.allowed & kernel_bit(k)) != 0) {
      list.push_back({k, is_dense(k), max_batch});
    }
  };
  const size_t any = std::numeric_limits<size_t>::max();
  add(LinearKernel::kOneDnn, true, any);
  add(LinearKernel::kDensePacked, true, kPackedMaxBatch);
  add(LinearKernel::kLookup, has_csr_, kLookupMaxBatch);
  add(LinearKernel::kCsr, has_csr_, any);
  add(LinearKernel::kBsr, has_bsr_, any);
  // Nothing allowed applies (say, only sparse kernels for a dense weight).
  if (list.empty()) list.push_back({LinearKernel::kOneDnn, true, any});
  return list;
}

bool LinearOp::prefers_feature_major() const {
  const LinearKernel wide = choice_.ranges().back().kernel;
  return wide == LinearKernel::kCsr || wide == LinearKernel::kBsr;
}

// The best of a few runs on random inputs, after one warm-up, with the
// threads runs will use and the layouts they will read and write.
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
  if (!choice_.uses(LinearKernel::kOneDnn)) {
    dense_.reset();
    std::vector<float>().swap(densified_);
  }
  if (!choice_.uses(LinearKernel::kDensePacked)) {
    packed_.reset();
  }
  if (!choice_.uses(LinearKernel::kLookup)) lookup_.reset();
  if (!choice_.uses(LinearKernel::kCsr)) {
    csr_ = kernels::CsrView();
    derived_csr_ = CsrMatrix();
    std::vector<CsrMatrix>().swap(csr_panels_);
    has_csr_ = false;
  }
  if (!choice_.uses(LinearKernel::kBsr)) {
    std::vector<BsrMatrix>().swap(bsr_panels_);
    has_bsr_ = false;
  }
}

size_t LinearOp::multiply_adds(size_t n) const {
  switch (kernel_for(n)) {
    case LinearKernel::kOneDnn:
    case LinearKernel::kDensePacked:
    case LinearKernel::kDepthwise:
      return out_ * in_ * n;
    case LinearKernel::kLookup:
    case LinearKernel::kCsr:
      return nonzeros_ * n;
    case LinearKernel::kBsr:
      return bsr_.nnz_blocks() * bsr_.block_rows * bsr_.block_cols * n;
  }
  return 0;
}

void LinearOp::run(const float* x, size_t n, float* y, int num_threads) const {
  run_kernel(kernel_for(n), x, n, y, num_threads);
}

// The kernels that read and write row-major activations (onednn,
// dense-packed, sparse-lookup): a feature-major X is transposed into this
// thread's workspace first (dense-packed reads it as it is), and a
// feature-major Y is written there and transposed after. One column is the
// same bytes in both layouts.
void LinearOp::run_rows(LinearKernel kernel, const float* x, size_t n,
                        float* y, int num_threads) const {
  const bool fm = x_feature_major_ && n > 1;
  if (fm && kernel != LinearKernel::kDensePacked) {
    float* rows =
        thread_workspace_as<float>(WorkspaceSlot::kLinearSlice, n * in_);
    kernels::transpose(x, in_, n, n, rows, in_);
    x = rows;
  }
  float* out = y;
  if (y_feature_major_ && n > 1) {
    out = thread_workspace_as<float>(WorkspaceSlot::kLinearTile, n * out_);
  }
  const kernels::Epilogue epilogue{bias_, activation_};
  switch (kernel) {
    case LinearKernel::kOneDnn:
      dense_->run(x, n, out);
      break;
    case LinearKernel::kLookup:
      run_chunks(lookup_chunks_, nonzeros_ * n, num_threads,
                 [&](size_t g0, size_t g1) {
                   kernels::spmm_lookup(lookup_->view(), x, in_, n, out, out_,
                                        epilogue, g0, g1);
                 });
      break;
    default:
      run_chunks(packed_chunks_, out_ * in_ * n, num_threads,
                 [&](size_t p0, size_t p1) {
                   kernels::gemm_packed(packed_->view(), x, fm ? 1 : in_,
                                        fm ? n : 1, n, out, out_, epilogue, p0,
                                        p1);
                 });
      break;
  }
  if (out != y) kernels::transpose(out, n, out_, out_, y, n);
}

// Panel p of `panels`: the first adds the bias, the later ones accumulate,
// the last applies the activation.
kernels::Epilogue LinearOp::epilogue_of(size_t p, size_t panels) const {
  return {p == 0 ? bias_ : nullptr,
          p + 1 == panels ? activation_ : kernels::Activation::kNone, p > 0};
}

// The CSR and BSR kernels over threads. Wide inputs run one slice of columns
// (tokens) at a time, each slice of X copied, once, into a contiguous
// feature-major buffer that every thread reads: in place, X's rows are n
// floats apart, and with n a power of two (a batch of sequences) the same
// columns of every row map to the same few cache sets, so the slice would
// not stay in L2. Row-major X is transposed into the buffer instead. For a
// row-major Y, each thread computes its rows of the slice's output into a
// tile of its own and transposes them into Y. For each slice, every panel
// of W in turn.
// kernel(panel, x, ldx, width, y, ldy, epilogue, begin, end) runs one panel
// on one slice for the chunk [begin, end) of `chunks`, which covers rows
// [begin · rows_per_unit, end · rows_per_unit).
template <class Kernel>
void LinearOp::run_sliced(const std::vector<size_t>& chunks, size_t work,
                          size_t rows_per_unit, size_t panels, const float* x,
                          size_t n, float* y, int num_threads,
                          const Kernel& kernel) const {
  // One column is the same in both layouts.
  const bool x_rows = !x_feature_major_ && n > 1;
  const bool y_rows = !y_feature_major_ && n > 1;
  const size_t width = kernels::column_slice_width(panel_cols_);
  const size_t step = n <= width + width / 2 ? n : width;
  if (!x_rows && !y_rows && step == n) {
    run_chunks(chunks, work, num_threads, [&](size_t begin, size_t end) {
      for (size_t p = 0; p < panels; ++p) {
        kernel(p, x + p * panel_cols_ * n, n, n, y, n, epilogue_of(p, panels),
               begin, end);
      }
    });
    return;
  }
  float* slice =
      thread_workspace_as<float>(WorkspaceSlot::kLinearSlice, in_ * step);
  for (size_t j0 = 0; j0 < n; j0 += step) {
    const size_t w = std::min(step, n - j0);
    if (x_rows) {
      kernels::transpose(x + j0 * in_, w, in_, in_, slice, w);
    } else {
      for (size_t k = 0; k < in_; ++k) {
        std::memcpy(slice + k * w, x + k * n + j0, w * sizeof(float));
      }
    }
    run_chunks(chunks, work / n * w, num_threads, [&](size_t begin, size_t end) {
      float* tile = y_rows ? thread_workspace_as<float>(
                                 WorkspaceSlot::kLinearTile, out_ * w)
                           : nullptr;
      float* out = y_rows ? tile : y + j0;
      const size_t ldy = y_rows ? w : n;
      for (size_t p = 0; p < panels; ++p) {
        kernel(p, slice + p * panel_cols_ * w, w, w, out, ldy,
               epilogue_of(p, panels), begin, end);
      }
      if (y_rows) {
        const size_t r0 = begin * rows_per_unit;
        const size_t r1 = std::min(out_, end * rows_per_unit);
        kernels::transpose(tile + r0 * w, r1 - r0, w, w, y + j0 * out_ + r0,
                           out_);
      }
    });
  }
}

void LinearOp::run_kernel(LinearKernel kernel, const float* x, size_t n,
                          float* y, int num_threads) const {
  switch (kernel) {
    case LinearKernel::kOneDnn:
    case LinearKernel::kDensePacked:
    case LinearKernel::kLookup:
      run_rows(kernel, x, n, y, num_threads);
      return;
    case LinearKernel::kCsr:
      run_sliced(csr_chunks_, nonzeros_ * n, 1,
                 std::max<size_t>(1, csr_panels_.size()), x, n, y, num_threads,
                 [&](size_t p, const float* xp, size_t ldx, size_t w, float* yp,
                     size_t ldy, const kernels::Epilogue& e, size_t begin,
                     size_t end) {
                   kernels::spmm_csr_strided(
                       csr_panels_.empty() ? csr_ : csr_panels_[p].view(), xp,
                       ldx, w, yp, ldy, e, begin, end);
                 });
      return;
    case LinearKernel::kBsr:
      run_sliced(bsr_chunks_,
                 bsr_.nnz_blocks() * bsr_.block_rows * bsr_.block_cols * n,
                 bsr_.block_rows, std::max<size_t>(1, bsr_panels_.size()), x,
                 n, y, num_threads,
                 [&](size_t p, const float* xp, size_t ldx, size_t w, float* yp,
                     size_t ldy, const kernels::Epilogue& e, size_t begin,
                     size_t end) {
                   kernels::spmm_bsr_strided(
                       bsr_panels_.empty() ? bsr_ : bsr_panels_[p].view(), xp,
                       ldx, w, yp, ldy, e, begin, end);
                 });
      return;
    case LinearKernel::kDepthwise:
      break;  // a convolution's kernel: never chosen for a Linear
  }
  throw Error("internal: the Linear op cannot run kernel " +
              std::string(linear_kernel_name(kernel)));
}

}  // namespace spruce
