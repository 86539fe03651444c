// Highway bias + activation pass: one read and one write of the output;
// and a residual Add with the activation after it.
#include <cstddef>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/src/epilogue.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/src/activation-inl.h"
#include "kernels/src/sweep-inl.h"
#include "spruce/kernels/epilogue.h"

HWY_BEFORE_NAMESPACE();
namespace spruce::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void ApplyEpilogue(float* HWY_RESTRICT y, size_t rows, size_t n,
                   const Epilogue& epilogue) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  const size_t lanes = hn::Lanes(d);
  const Activation act = epilogue.activation;
  if (epilogue.bias == nullptr) {
    // The activation's own loop, without a dispatch per vector.
    ActivateSpan(y, rows * n, act);
    return;
  }
  for (size_t r = 0; r < rows; ++r) {
    const float b = epilogue.bias != nullptr ? epilogue.bias[r] : 0.0f;
    float* HWY_RESTRICT yr = y + r * n;
    size_t j = 0;
    for (; j + lanes <= n; j += lanes) {
      const auto v = hn::Add(hn::LoadU(d, yr + j), hn::Set(d, b));
      hn::StoreU(Activate(d, v, act), d, yr + j);
    }
    for (; j < n; ++j) {
      const auto v = hn::Add(hn::LoadU(d1, yr + j), hn::Set(d1, b));
      hn::StoreU(Activate(d1, v, act), d1, yr + j);
    }
  }
}

void AddResidual(const float* HWY_RESTRICT a, size_t lda, const float* residual,
                 size_t rows, size_t n, Activation act, float* y) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  for (size_t r = 0; r < rows; ++r) {
    const float* HWY_RESTRICT ar = a + r * lda;
    const float* rr = residual + r * n;
    float* yr = y + r * n;
    size_t j = 0;
    for (; j + lanes <= n; j += lanes) {
      const auto v = hn::Add(hn::LoadU(d, ar + j), hn::LoadU(d, rr + j));
      hn::StoreU(Activate(d, v, act), d, yr + j);
    }
    if (j < n) {
      const size_t count = n - j;
#if HWY_TARGET <= HWY_AVX2
      // The row's last columns as one masked vector.
      const auto m = hn::FirstN(d, count);
      const auto v =
          hn::Add(hn::MaskedLoad(m, d, ar + j), hn::MaskedLoad(m, d, rr + j));
      StorePartial(Activate(d, v, act), count, d, yr + j);
#else
      const hn::CappedTag<float, 1> d1;
      for (size_t k = 0; k < count; ++k) {
        const auto v =
            hn::Add(hn::LoadU(d1, ar + j + k), hn::LoadU(d1, rr + j + k));
        hn::StoreU(Activate(d1, v, act), d1, yr + j + k);
      }
#endif
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace spruce::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace spruce::kernels {

HWY_EXPORT(ApplyEpilogue);
HWY_EXPORT(AddResidual);

void apply_epilogue(float* y, size_t rows, size_t n, const Epilogue& epilogue) {
  if (epilogue.bias == nullptr && epilogue.activation == Activation::kNone) {
    return;
  }
  HWY_DYNAMIC_DISPATCH(ApplyEpilogue)(y, rows, n, epilogue);
}

void add_residual(const float* a, size_t lda, const float* residual,
                  size_t rows, size_t n, Activation activation, float* y) {
  HWY_DYNAMIC_DISPATCH(AddResidual)(a, lda, residual, rows, n, activation, y);
}

}  // namespace spruce::kernels
#endif  // HWY_ONCE
