// Scalar references for kernels/spmm.h: the simplest correct loops, in double
// accumulation, so that SIMD kernels are compared against something obviously
// right rather than against another fast path.
#include <algorithm>
#include <cmath>

#include "spruce/kernels/spmm.h"

namespace spruce::kernels {
namespace {

size_t index_at(const void* idx, IndexWidth width, size_t k) {
  return width == IndexWidth::k16 ? static_cast<const uint16_t*>(idx)[k]
                                  : static_cast<const uint32_t*>(idx)[k];
}

}  // namespace

double activate_reference(double v, Activation activation) {
  switch (activation) {
    case Activation::kNone:
      return v;
    case Activation::kRelu:
      return std::max(v, 0.0);
    case Activation::kRelu6:
      return std::min(std::max(v, 0.0), 6.0);
    case Activation::kGelu:
      return 0.5 * v * std::erfc(-v / std::sqrt(2.0));
    case Activation::kSigmoid:
      return 1.0 / (1.0 + std::exp(-v));
    case Activation::kTanh:
      return std::tanh(v);
  }
  return v;
}

void spmm_csr_reference(const CsrView& w, const float* x, size_t n, float* y,
                        const Epilogue& epilogue, size_t row_begin,
                        size_t row_end) {
  spmm_csr_strided_reference(w, x, n, n, y, n, epilogue, row_begin, row_end);
}

void spmm_csr_strided_reference(const CsrView& w, const float* x, size_t ldx,
                                size_t n, float* y, size_t ldy,
                                const Epilogue& epilogue, size_t row_begin,
                                size_t row_end) {
  for (size_t r = row_begin; r < row_end; ++r) {
    for (size_t j = 0; j < n; ++j) {
      double sum = epilogue.bias != nullptr ? epilogue.bias[r] : 0.0;
      if (epilogue.accumulate) sum += y[r * ldy + j];
      for (uint32_t k = w.row_ptr[r]; k < w.row_ptr[r + 1]; ++k) {
        const size_t c = index_at(w.col_idx, w.index_width, k);
        sum += static_cast<double>(w.values[k]) * x[c * ldx + j];
      }
      y[r * ldy + j] =
          static_cast<float>(activate_reference(sum, epilogue.activation));
    }
  }
}

void spmm_bsr_reference(const BsrView& w, const float* x, size_t n, float* y,
                        const Epilogue& epilogue, size_t block_row_begin,
                        size_t block_row_end) {
  spmm_bsr_strided_reference(w, x, n, n, y, n, epilogue, block_row_begin,
                             block_row_end);
}

void spmm_bsr_strided_reference(const BsrView& w, const float* x, size_t ldx,
                                size_t n, float* y, size_t ldy,
                                const Epilogue& epilogue,
                                size_t block_row_begin, size_t block_row_end) {
  const size_t br_rows = w.block_rows;
  const size_t bc_cols = w.block_cols;
  for (size_t br = block_row_begin; br < block_row_end; ++br) {
    for (size_t i = 0; i < br_rows && br * br_rows + i < w.rows; ++i) {
      const size_t r = br * br_rows + i;
      for (size_t j = 0; j < n; ++j) {
        double sum = epilogue.bias != nullptr ? epilogue.bias[r] : 0.0;
        if (epilogue.accumulate) sum += y[r * ldy + j];
        for (uint32_t k = w.row_ptr[br]; k < w.row_ptr[br + 1]; ++k) {
          const size_t c0 = index_at(w.col_idx, w.index_width, k) * bc_cols;
          const float* block = w.values + k * br_rows * bc_cols;
          for (size_t jj = 0; jj < bc_cols && c0 + jj < w.cols; ++jj) {
            sum += static_cast<double>(block[i * bc_cols + jj]) *
                   x[(c0 + jj) * ldx + j];
          }
        }
        y[r * ldy + j] =
            static_cast<float>(activate_reference(sum, epilogue.activation));
      }
    }
  }
}

}  // namespace spruce::kernels
