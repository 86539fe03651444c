// Scalar reference for kernels/spmm.h: the simplest correct loop, in double
// accumulation, so that SIMD kernels are compared against something obviously
// right rather than against another fast path.
#include <algorithm>

#include "spruce/kernels/spmm.h"

namespace spruce::kernels {

void spmm_csr_reference(const CsrView& w, const float* x, size_t n, float* y,
                        const Epilogue& epilogue, size_t row_begin,
                        size_t row_end) {
  const auto* col16 = static_cast<const uint16_t*>(w.col_idx);
  const auto* col32 = static_cast<const uint32_t*>(w.col_idx);
  for (size_t r = row_begin; r < row_end; ++r) {
    for (size_t j = 0; j < n; ++j) {
      double sum = epilogue.bias != nullptr ? epilogue.bias[r] : 0.0;
      for (uint32_t k = w.row_ptr[r]; k < w.row_ptr[r + 1]; ++k) {
        const size_t c =
            w.index_width == IndexWidth::k16 ? col16[k] : col32[k];
        sum += static_cast<double>(w.values[k]) * x[c * n + j];
      }
      if (epilogue.activation == Activation::kRelu) sum = std::max(sum, 0.0);
      y[r * n + j] = static_cast<float>(sum);
    }
  }
}

}  // namespace spruce::kernels
