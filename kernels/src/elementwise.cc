// Elementwise arithmetic with broadcasting (see spruce/kernels/elementwise.h).
#include <cstddef>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/src/elementwise.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/src/sweep-inl.h"
#include "spruce/kernels/elementwise.h"

HWY_BEFORE_NAMESPACE();
namespace spruce::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <Arith kOp, class V>
HWY_INLINE V Apply(V a, V b) {
  if constexpr (kOp == Arith::kAdd) return hn::Add(a, b);
  if constexpr (kOp == Arith::kSub) return hn::Sub(a, b);
  if constexpr (kOp == Arith::kMul) return hn::Mul(a, b);
  if constexpr (kOp == Arith::kDiv) return hn::Div(a, b);
}

// One row; a repeated operand is broadcast once per row, outside the loop.
template <Arith kOp, bool kRepeatA, bool kRepeatB>
HWY_INLINE void Row(const float* a, const float* b, size_t n, float* y) {
  ForEachWidth(n, [&](auto d, size_t k) {
    const auto va = kRepeatA ? hn::Set(d, a[0]) : hn::LoadU(d, a + k);
    const auto vb = kRepeatB ? hn::Set(d, b[0]) : hn::LoadU(d, b + k);
    hn::StoreU(Apply<kOp>(va, vb), d, y + k);
  });
}

template <Arith kOp, bool kRepeatA, bool kRepeatB>
void Rows(ArithOperand a, ArithOperand b, size_t rows, size_t n, float* y) {
  for (size_t r = 0; r < rows; ++r) {
    Row<kOp, kRepeatA, kRepeatB>(a.data + r * a.row_step,
                                 b.data + r * b.row_step, n, y + r * n);
  }
}

template <Arith kOp>
void RowsOf(ArithOperand a, ArithOperand b, size_t rows, size_t n, float* y) {
  if (a.repeated) {
    return b.repeated ? Rows<kOp, true, true>(a, b, rows, n, y)
                      : Rows<kOp, true, false>(a, b, rows, n, y);
  }
  return b.repeated ? Rows<kOp, false, true>(a, b, rows, n, y)
                    : Rows<kOp, false, false>(a, b, rows, n, y);
}

void ArithRows(Arith op, ArithOperand a, ArithOperand b, size_t rows, size_t n,
               float* y) {
  switch (op) {
    case Arith::kAdd:
      return RowsOf<Arith::kAdd>(a, b, rows, n, y);
    case Arith::kSub:
      return RowsOf<Arith::kSub>(a, b, rows, n, y);
    case Arith::kMul:
      return RowsOf<Arith::kMul>(a, b, rows, n, y);
    case Arith::kDiv:
      return RowsOf<Arith::kDiv>(a, b, rows, n, y);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace spruce::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace spruce::kernels {

HWY_EXPORT(ArithRows);

void arith_rows(Arith op, ArithOperand a, ArithOperand b, size_t rows, size_t n,
                float* y) {
  HWY_DYNAMIC_DISPATCH(ArithRows)(op, a, b, rows, n, y);
}

void arith_rows_reference(Arith op, ArithOperand a, ArithOperand b, size_t rows,
                          size_t n, float* y) {
  for (size_t r = 0; r < rows; ++r) {
    for (size_t k = 0; k < n; ++k) {
      const float p = a.data[r * a.row_step + (a.repeated ? 0 : k)];
      const float q = b.data[r * b.row_step + (b.repeated ? 0 : k)];
      float v = 0.0f;
      switch (op) {
        case Arith::kAdd:
          v = p + q;
          break;
        case Arith::kSub:
          v = p - q;
          break;
        case Arith::kMul:
          v = p * q;
          break;
        case Arith::kDiv:
          v = p / q;
          break;
      }
      y[r * n + k] = v;
    }
  }
}

}  // namespace spruce::kernels
#endif  // HWY_ONCE
