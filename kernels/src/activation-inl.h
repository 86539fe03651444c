// Activations applied as outputs are written, for every Highway target: ReLU,
// ReLU6, GELU (the erf form, PyTorch's nn.GELU default), sigmoid, tanh,
// SiLU, HardSwish and HardSigmoid.
//
// Included once per target by a Highway source (after foreach_target.h), so
// it uses the per-target include guard idiom of Highway's own -inl.h files.
#if defined(SPRUCE_KERNELS_ACTIVATION_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SPRUCE_KERNELS_ACTIVATION_INL_H_
#undef SPRUCE_KERNELS_ACTIVATION_INL_H_
#else
#define SPRUCE_KERNELS_ACTIVATION_INL_H_
#endif

#include <cstddef>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "spruce/kernels/spmm.h"

HWY_BEFORE_NAMESPACE();
namespace spruce::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// 1 + e^-x, the argument clamped where e^-x leaves float range.
template <class D, class V>
HWY_INLINE V OnePlusExpNeg(D d, V x) {
  const auto t =
      hn::Min(hn::Max(hn::Neg(x), hn::Set(d, -88.0f)), hn::Set(d, 88.0f));
  return hn::Add(hn::Set(d, 1.0f), hn::Exp(d, t));
}

// 1 / (1 + e^-x), saturating to exactly 0 or 1 instead of producing NaN
// (LSTM and GRU gates rely on the exact ends).
template <class D, class V>
HWY_INLINE V Sigmoid(D d, V x) {
  return hn::Div(hn::Set(d, 1.0f), OnePlusExpNeg(d, x));
}

// x · sigmoid(x) with the division replaced by the hardware's reciprocal
// estimate and one Newton step, r·(2 − a·r) (12 or 14 bits → 23 or more):
// two FMAs instead of the divider, which made SiLU cost more than the 1×1
// convolutions it follows in EfficientNet. Within a few ulps of x/(1+e^-x).
template <class D, class V>
HWY_INLINE V Silu(D d, V x) {
  const V a = OnePlusExpNeg(d, x);
  const V r = hn::ApproximateReciprocal(a);
  return hn::Mul(x, hn::Mul(r, hn::NegMulAdd(a, r, hn::Set(d, 2.0f))));
}

// min(max(x / 6 + 1/2, 0), 1), PyTorch's Hardsigmoid (ONNX HardSigmoid with
// alpha 1/6, beta 1/2); x times it is HardSwish.
template <class D, class V>
HWY_INLINE V HardSigmoid(D d, V x) {
  const auto t = hn::MulAdd(x, hn::Set(d, 1.0f / 6.0f), hn::Set(d, 0.5f));
  return hn::Min(hn::Max(t, hn::Zero(d)), hn::Set(d, 1.0f));
}

// erfc(z) for z >= 0 as t * e^(-z^2 + P(t)), t = 1 / (1 + z/2): the
// Chebyshev fit of Numerical Recipes §6.2, relative error below 1.2e-7 in
// exact arithmetic, so float rounding dominates.
// 1 / a for a >= 1: the hardware estimate (12 or 14 bits) refined by one
// Newton step to about float precision, several times cheaper than a
// division.
template <class D, class V>
HWY_INLINE V ReciprocalAtLeastOne(D d, V a) {
#if HWY_TARGET == HWY_SCALAR
  return hn::Div(hn::Set(d, 1.0f), a);
#else
  const auto r = hn::ApproximateReciprocal(a);
  return hn::Mul(r, hn::NegMulAdd(a, r, hn::Set(d, 2.0f)));
#endif
}

template <class D, class V>
HWY_INLINE V ErfcNonNegative(D d, V z) {
  const auto t = ReciprocalAtLeastOne(
      d, hn::MulAdd(hn::Set(d, 0.5f), z, hn::Set(d, 1.0f)));
  auto p = hn::Set(d, 0.17087277f);
  p = hn::MulAdd(p, t, hn::Set(d, -0.82215223f));
  p = hn::MulAdd(p, t, hn::Set(d, 1.48851587f));
  p = hn::MulAdd(p, t, hn::Set(d, -1.13520398f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.27886807f));
  p = hn::MulAdd(p, t, hn::Set(d, -0.18628806f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.09678418f));
  p = hn::MulAdd(p, t, hn::Set(d, 0.37409196f));
  p = hn::MulAdd(p, t, hn::Set(d, 1.00002368f));
  p = hn::MulAdd(p, t, hn::Set(d, -1.26551223f));
  // e^(-z^2 + p); below -88 the result is 0 at float precision anyway.
  const auto e = hn::Max(hn::NegMulAdd(z, z, p), hn::Set(d, -88.0f));
  return hn::Mul(t, hn::Exp(d, e));
}

// x/2 * (1 + erf(x / sqrt 2)). For x < 0, 1 + erf(x/√2) = erfc(|x|/√2), which
// keeps full relative precision in the left tail instead of cancelling.
template <class D, class V>
HWY_INLINE V Gelu(D d, V x) {
  const auto z = hn::Mul(hn::Abs(x), hn::Set(d, 0.70710678118654752f));
  const auto c = ErfcNonNegative(d, z);
  const auto one_plus_erf =
      hn::IfThenElse(hn::Lt(x, hn::Zero(d)), c, hn::Sub(hn::Set(d, 2.0f), c));
  return hn::Mul(hn::Mul(hn::Set(d, 0.5f), x), one_plus_erf);
}

template <class D, class V>
HWY_INLINE V Activate(D d, V v, Activation activation) {
  switch (activation) {
    case Activation::kNone:
      return v;
    case Activation::kRelu:
      return hn::Max(v, hn::Zero(d));
    case Activation::kRelu6:
      return hn::Min(hn::Max(v, hn::Zero(d)), hn::Set(d, 6.0f));
    case Activation::kGelu:
      return Gelu(d, v);
    case Activation::kSigmoid:
      return Sigmoid(d, v);
    case Activation::kTanh:
      return hn::Tanh(d, v);
    case Activation::kSilu:
      return Silu(d, v);
    case Activation::kHardSwish:
      return hn::Mul(v, HardSigmoid(d, v));
    case Activation::kHardSigmoid:
      return HardSigmoid(d, v);
  }
  return v;
}

// Cheap activations stay fused in the kernels' stores; the transcendental ones
// run once more over the finished, L1-resident output span instead, so each
// kernel's tile loop does not carry eight inlined copies of them.
HWY_INLINE bool FusedInStore(Activation activation) {
  return activation == Activation::kNone || activation == Activation::kRelu ||
         activation == Activation::kRelu6;
}

template <class D, class V>
HWY_INLINE V ActivateInStore(D d, V v, Activation activation) {
  if (activation == Activation::kRelu) return hn::Max(v, hn::Zero(d));
  if (activation == Activation::kRelu6) {
    return hn::Min(hn::Max(v, hn::Zero(d)), hn::Set(d, 6.0f));
  }
  return v;
}

// y[0:count] = act(y[0:count]).
static HWY_NOINLINE HWY_MAYBE_UNUSED void ActivateSpan(float* HWY_RESTRICT y,
                                                       size_t count,
                                                       Activation activation) {
  if (activation == Activation::kNone) return;
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= count; i += lanes) {
    hn::StoreU(Activate(d, hn::LoadU(d, y + i), activation), d, y + i);
  }
  const hn::CappedTag<float, 1> d1;
  for (; i < count; ++i) {
    hn::StoreU(Activate(d1, hn::LoadU(d1, y + i), activation), d1, y + i);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace spruce::kernels
HWY_AFTER_NAMESPACE();

#endif  // SPRUCE_KERNELS_ACTIVATION_INL_H_
