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
#include "kernels/src/sweep-inl.h"
#include "spruce/kernels/spmm.h"

HWY_BEFORE_NAMESPACE();
namespace spruce::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// e^x for x in [-87, 88] (callers clamp): 2^n · e^f with n = round(x /
// ln 2) and f = x − n·ln 2 in [−ln2/2, ln2/2], reduced in two FMAs with ln 2
// split in a part exact in few bits and the rest, so f keeps full precision.
// n comes from adding 1.5·2^23 + 127, which leaves n + 127 in the low bits of
// the sum: shifted into the exponent field it is 2^n as a float. e^f is
// 1 + f + f²·P(f), P of degree 4 fitted for relative error (6.7e-8 over the
// interval in float arithmetic, under one ulp). About 13 instructions where
// Highway's general Exp, which handles every input, takes over 25: SiLU and
// sigmoid over a convolution's output spend most of their time here.
template <class D, class V>
HWY_INLINE V ExpClamped(D d, V x) {
  const hn::RebindToSigned<D> di;
  const auto magic = hn::Set(d, 12582912.0f + 127.0f);  // 1.5 · 2^23 + 127
  const auto k = hn::MulAdd(x, hn::Set(d, 1.44269504088896341f), magic);
  const auto n = hn::Sub(k, magic);  // round(x / ln 2), as a float
  auto f = hn::NegMulAdd(n, hn::Set(d, 0.693359375f), x);
  f = hn::NegMulAdd(n, hn::Set(d, -2.12194440e-4f), f);
  auto p = hn::Set(d, 0.0013814611593261361f);
  p = hn::MulAdd(p, f, hn::Set(d, 0.008368710055947304f));
  p = hn::MulAdd(p, f, hn::Set(d, 0.04166838899254799f));
  p = hn::MulAdd(p, f, hn::Set(d, 0.1666652113199234f));
  p = hn::MulAdd(p, f, hn::Set(d, 0.4999999403953552f));
  const auto ef = hn::Add(hn::MulAdd(p, hn::Mul(f, f), f), hn::Set(d, 1.0f));
  const auto scale = hn::BitCast(d, hn::ShiftLeft<23>(hn::BitCast(di, k)));
  return hn::Mul(ef, scale);
}

// 1 + e^-x, the argument clamped where e^-x leaves float range.
template <class D, class V>
HWY_INLINE V OnePlusExpNeg(D d, V x) {
  const auto t =
      hn::Min(hn::Max(hn::Neg(x), hn::Set(d, -87.0f)), hn::Set(d, 88.0f));
  return hn::Add(hn::Set(d, 1.0f), ExpClamped(d, t));
}

// 1 / (1 + e^-x), saturating to exactly 0 or 1 instead of producing NaN
// (LSTM and GRU gates rely on the exact ends).
template <class D, class V>
HWY_INLINE V Sigmoid(D d, V x) {
  return hn::Div(hn::Set(d, 1.0f), OnePlusExpNeg(d, x));
}

// x · sigmoid(x) as x / (1 + e^-x). The division goes to the divider, which
// runs beside the FMA pipes the exp keeps busy: on Zen 4 it is 14% faster
// than the reciprocal estimate and a Newton step (three more FMA-pipe ops),
// and exact. Below x = -88 the quotient is x over 1 + e^88, not 0 (-6e-9 at
// x = -1e30), so x is clamped there too: the result is then below 1e-36,
// zero to float precision as the true value is.
// With x clamped, -x needs only its lower clamp: OnePlusExpNeg's upper one
// would be a redundant Min (3% of SiLU's time in L1).
template <class D, class V>
HWY_INLINE V Silu(D d, V x) {
  const V lo = hn::Max(x, hn::Set(d, -88.0f));
  const V t = hn::Max(hn::Neg(lo), hn::Set(d, -87.0f));
  return hn::Div(lo, hn::Add(hn::Set(d, 1.0f), ExpClamped(d, t)));
}

// min(max(x / 6 + 1/2, 0), 1), PyTorch's Hardsigmoid (ONNX HardSigmoid with
// alpha 1/6, beta 1/2); x times it is HardSwish.
template <class D, class V>
HWY_INLINE V HardSigmoid(D d, V x) {
  const auto t = hn::MulAdd(x, hn::Set(d, 1.0f / 6.0f), hn::Set(d, 0.5f));
  return hn::Min(hn::Max(t, hn::Zero(d)), hn::Set(d, 1.0f));
}

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

// erfc(z) for z >= 0 as t * e^(-z^2 + P(t)), t = 1 / (1 + z/2): the
// Chebyshev fit of Numerical Recipes §6.2, relative error below 1.2e-7 in
// exact arithmetic, so float rounding dominates.
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
  // e^(-z^2 + p); below -87 the result is 0 at float precision anyway.
  const auto e = hn::Max(hn::NegMulAdd(z, z, p), hn::Set(d, -87.0f));
  return hn::Mul(t, ExpClamped(d, e));
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

// y[0:count] = act(y[0:count]) for one activation known at compile time, so
// the loop carries no dispatch (the tail of a 7×7 plane's row group, 28
// floats, is two narrower passes).
template <Activation kAct>
HWY_INLINE void ActivateSpanAs(float* HWY_RESTRICT y, size_t count) {
  ForEachWidth(count, [y](auto d, size_t i) {
    hn::StoreU(Activate(d, hn::LoadU(d, y + i), kAct), d, y + i);
  });
}

// y[0:count] = act(y[0:count]).
static HWY_NOINLINE HWY_MAYBE_UNUSED void ActivateSpan(float* HWY_RESTRICT y,
                                                       size_t count,
                                                       Activation activation) {
  switch (activation) {
    case Activation::kNone:
      return;
    case Activation::kRelu:
      return ActivateSpanAs<Activation::kRelu>(y, count);
    case Activation::kRelu6:
      return ActivateSpanAs<Activation::kRelu6>(y, count);
    case Activation::kGelu:
      return ActivateSpanAs<Activation::kGelu>(y, count);
    case Activation::kSigmoid:
      return ActivateSpanAs<Activation::kSigmoid>(y, count);
    case Activation::kTanh:
      return ActivateSpanAs<Activation::kTanh>(y, count);
    case Activation::kSilu:
      return ActivateSpanAs<Activation::kSilu>(y, count);
    case Activation::kHardSwish:
      return ActivateSpanAs<Activation::kHardSwish>(y, count);
    case Activation::kHardSigmoid:
      return ActivateSpanAs<Activation::kHardSigmoid>(y, count);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace spruce::kernels
HWY_AFTER_NAMESPACE();

#endif  // SPRUCE_KERNELS_ACTIVATION_INL_H_
