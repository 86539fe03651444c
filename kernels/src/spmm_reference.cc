// Scalar references for kernels/spmm.h and spmm_lookup.h: the simplest correct loops, in double
// accumulation, so that SIMD kernels are compared against something obviously
// right rather than against another fast path.
#include <algorithm>
#include <cmath>

#include "spruce/kernels/spmm.h"
#include "spruce/kernels/spmm_lookup.h"

namespace spruce::kernels {

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
    case Activation::kSilu:
      return v / (1.0 + std::exp(-v));
    case Activation::kHardSwish:
      return v * std::min(std::max(v + 3.0, 0.0), 6.0) / 6.0;
    case Activation::kHardSigmoid:
      return std::min(std::max(v / 6.0 + 0.5, 0.0), 1.0);
  }
  return v;
}

void spmm_csr_reference(const CsrView& w, const float* x, size_t n, float* y,
                        const Epilogue& epilogue, size_t row_begin,
                        size_t row_end) {
  spmm_csr_strided_reference(w, x, n, n, y, n, epilogue, row_begin, row_end);
}

namespace {

// Y[r, j] = act(sum_k W[r, c_k] · X[c_k, j] + bias[r]) with X's element
// (c, j) at x[c * x_c + j * x_j] and Y's (r, j) at y[r * y_r + j * y_j]:
// the one loop every CSR layout's reference is.
void csr_reference(const CsrView& w, const float* x, size_t x_c, size_t x_j,
                   size_t n, float* y, size_t y_r, size_t y_j,
                   const Epilogue& epilogue, size_t row_begin, size_t row_end) {
  for (size_t r = row_begin; r < row_end; ++r) {
    for (size_t j = 0; j < n; ++j) {
      double sum = epilogue.bias != nullptr ? epilogue.bias[r] : 0.0;
      float& out = y[r * y_r + j * y_j];
      if (epilogue.accumulate) sum += out;
      for (uint32_t k = w.row_ptr[r]; k < w.row_ptr[r + 1]; ++k) {
        sum += static_cast<double>(w.values[k]) * x[w.col(k) * x_c + j * x_j];
      }
      out = static_cast<float>(activate_reference(sum, epilogue.activation));
    }
  }
}

}  // namespace

void spmm_csr_strided_reference(const CsrView& w, const float* x, size_t ldx,
                                size_t n, float* y, size_t ldy,
                                const Epilogue& epilogue, size_t row_begin,
                                size_t row_end) {
  csr_reference(w, x, ldx, 1, n, y, ldy, 1, epilogue, row_begin, row_end);
}

void spmm_csr_shifted_reference(const ShiftedCsrView& w, const float* x,
                                size_t n, float* y, size_t ldy,
                                const Epilogue& epilogue, size_t row_begin,
                                size_t row_end) {
  const CsrView& c = w.csr;
  for (size_t r = row_begin; r < row_end; ++r) {
    for (size_t j = 0; j < n; ++j) {
      double sum = epilogue.bias != nullptr ? epilogue.bias[r] : 0.0;
      float& out = y[r * ldy + j];
      if (epilogue.accumulate) sum += out;
      for (size_t k = 0; k < w.classes; ++k) {
        const size_t sub = r * w.classes + k;
        for (uint32_t e = c.row_ptr[sub]; e < c.row_ptr[sub + 1]; ++e) {
          sum +=
              static_cast<double>(c.values[e]) * x[c.col(e) + w.shifts[k] + j];
        }
      }
      out = static_cast<float>(activate_reference(sum, epilogue.activation));
    }
  }
}

void spmm_lookup_reference(const CsrView& w, const float* x, size_t ldx,
                           size_t n, float* y, size_t ldy,
                           const Epilogue& epilogue, size_t row_begin,
                           size_t row_end) {
  csr_reference(w, x, 1, ldx, n, y, 1, ldy, epilogue, row_begin, row_end);
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
          const size_t c0 = w.block_col(k) * bc_cols;
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
