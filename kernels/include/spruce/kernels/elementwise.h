// Elementwise arithmetic of two operands in the broadcast patterns a
// graph's Add, Sub, Mul and Div take: equal shapes, one scalar, one value
// per channel in NCHW (squeeze-excite's scale: [N, C, 1, 1] against
// [N, C, H, W]) or channels-last ([C] against [N, H, W, C], a bias over the
// last axis). Vectorized with Highway and dispatched to the best target at
// run time, plus a scalar reference for tests.
#ifndef SPRUCE_KERNELS_ELEMENTWISE_H_
#define SPRUCE_KERNELS_ELEMENTWISE_H_

#include <cstddef>

namespace spruce::kernels {

enum class Arith { kAdd, kSub, kMul, kDiv };

// One operand of y[r, k] (r < rows, k < n): row r starts at
// data + r · row_step and holds n values, or, when `repeated`, one value
// that stands for all n of them.
struct ArithOperand {
  const float* data = nullptr;
  size_t row_step = 0;
  bool repeated = false;
};

// y[r · n + k] = a(r, k) op b(r, k), IEEE single precision as the scalar
// expression gives it. y may equal a full operand's data (in place).
void arith_rows(Arith op, ArithOperand a, ArithOperand b, size_t rows, size_t n,
                float* y);
void arith_rows_reference(Arith op, ArithOperand a, ArithOperand b, size_t rows,
                          size_t n, float* y);

}  // namespace spruce::kernels

#endif  // SPRUCE_KERNELS_ELEMENTWISE_H_
