// Highway LSTM cell update (see spruce/kernels/lstm.h).
#include "spruce/kernels/lstm.h"

#include <cmath>
#include <cstddef>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/src/lstm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/src/activation-inl.h"

HWY_BEFORE_NAMESPACE();
namespace spruce::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Elements [e, e + Lanes(d)) of one step.
template <class D>
HWY_INLINE void CellVector(D d, const float* HWY_RESTRICT gx,
                           const float* HWY_RESTRICT gh, size_t count,
                           const float* c_prev, float* c,
                           float* HWY_RESTRICT h, size_t e) {
  auto zi = hn::LoadU(d, gx + e);
  auto zo = hn::LoadU(d, gx + count + e);
  auto zf = hn::LoadU(d, gx + 2 * count + e);
  auto zc = hn::LoadU(d, gx + 3 * count + e);
  if (gh != nullptr) {
    zi = hn::Add(zi, hn::LoadU(d, gh + e));
    zo = hn::Add(zo, hn::LoadU(d, gh + count + e));
    zf = hn::Add(zf, hn::LoadU(d, gh + 2 * count + e));
    zc = hn::Add(zc, hn::LoadU(d, gh + 3 * count + e));
  }
  const auto i = Sigmoid(d, zi);
  const auto o = Sigmoid(d, zo);
  const auto g = hn::Tanh(d, zc);
  auto cell = hn::Mul(i, g);
  if (c_prev != nullptr) {
    cell = hn::MulAdd(Sigmoid(d, zf), hn::LoadU(d, c_prev + e), cell);
  }
  hn::StoreU(cell, d, c + e);
  hn::StoreU(hn::Mul(o, hn::Tanh(d, cell)), d, h + e);
}

void LstmCell(const float* HWY_RESTRICT gx, const float* HWY_RESTRICT gh,
              size_t count, const float* c_prev, float* c,
              float* HWY_RESTRICT h) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  size_t e = 0;
  for (; e + lanes <= count; e += lanes) {
    CellVector(d, gx, gh, count, c_prev, c, h, e);
  }
  const hn::CappedTag<float, 1> d1;
  for (; e < count; ++e) CellVector(d1, gx, gh, count, c_prev, c, h, e);
}

}  // namespace HWY_NAMESPACE
}  // namespace spruce::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace spruce::kernels {

HWY_EXPORT(LstmCell);

void lstm_cell(const float* gates_x, const float* gates_h, size_t count,
               const float* c_prev, float* c, float* h) {
  HWY_DYNAMIC_DISPATCH(LstmCell)(gates_x, gates_h, count, c_prev, c, h);
}

void lstm_cell_reference(const float* gates_x, const float* gates_h,
                         size_t count, const float* c_prev, float* c,
                         float* h) {
  auto sigmoid = [](double z) { return 1.0 / (1.0 + std::exp(-z)); };
  for (size_t e = 0; e < count; ++e) {
    double z[4];
    for (size_t g = 0; g < 4; ++g) {
      z[g] = gates_x[g * count + e];
      if (gates_h != nullptr) z[g] += gates_h[g * count + e];
    }
    const double prev = c_prev != nullptr ? c_prev[e] : 0.0;
    const double cell = sigmoid(z[2]) * prev + sigmoid(z[0]) * std::tanh(z[3]);
    c[e] = static_cast<float>(cell);
    h[e] = static_cast<float>(sigmoid(z[1]) * std::tanh(cell));
  }
}

}  // namespace spruce::kernels
#endif  // HWY_ONCE
