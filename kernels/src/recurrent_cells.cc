// Highway LSTM cell update (see spruce/kernels/recurrent_cells.h).
#include "spruce/kernels/recurrent_cells.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/src/recurrent_cells.cc"
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
                           const float* c_prev, float* c, float* HWY_RESTRICT h,
                           size_t e) {
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

// Calls step(d, e) for each full vector of `count` elements, then step(d1,
// e) for each element of the tail.
template <class Step>
HWY_INLINE void ForElements(size_t count, const Step& step) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  size_t e = 0;
  for (; e + lanes <= count; e += lanes) step(d, e);
  const hn::CappedTag<float, 1> d1;
  for (; e < count; ++e) step(d1, e);
}

void LstmCell(const float* HWY_RESTRICT gx, const float* HWY_RESTRICT gh,
              size_t count, const float* c_prev, float* c,
              float* HWY_RESTRICT h) {
  ForElements(count, [&](auto d, size_t e) {
    CellVector(d, gx, gh, count, c_prev, c, h, e);
  });
}

// σ(gates_x[gate] + gates_h[gate]) at element e.
template <class D>
HWY_INLINE hn::Vec<D> SigmoidGate(D d, const float* HWY_RESTRICT gx,
                                  const float* HWY_RESTRICT gh, size_t offset) {
  return Sigmoid(d,
                 hn::Add(hn::LoadU(d, gx + offset), hn::LoadU(d, gh + offset)));
}

void GruCell(const float* HWY_RESTRICT gx, const float* HWY_RESTRICT gh,
             size_t count, const float* h_prev, bool linear_before_reset,
             float* h) {
  ForElements(count, [&](auto d, size_t e) {
    const auto z = SigmoidGate(d, gx, gh, e);
    auto recurrent = hn::LoadU(d, gh + 2 * count + e);
    if (linear_before_reset) {
      recurrent = hn::Mul(SigmoidGate(d, gx, gh, count + e), recurrent);
    }
    const auto n =
        hn::Tanh(d, hn::Add(hn::LoadU(d, gx + 2 * count + e), recurrent));
    // (1 − z)·n + z·h_prev = n + z·(h_prev − n)
    const auto prev = hn::LoadU(d, h_prev + e);
    hn::StoreU(hn::MulAdd(z, hn::Sub(prev, n), n), d, h + e);
  });
}

void GruResetHidden(const float* HWY_RESTRICT gx, const float* HWY_RESTRICT gh,
                    size_t count, const float* HWY_RESTRICT h_prev,
                    float* HWY_RESTRICT reset_h) {
  ForElements(count, [&](auto d, size_t e) {
    const auto r = SigmoidGate(d, gx, gh, count + e);
    hn::StoreU(hn::Mul(r, hn::LoadU(d, h_prev + e)), d, reset_h + e);
  });
}

void RnnCell(const float* HWY_RESTRICT gx, const float* HWY_RESTRICT gh,
             size_t count, CellActivation f, float* HWY_RESTRICT h) {
  ForElements(count, [&](auto d, size_t e) {
    auto z = hn::LoadU(d, gx + e);
    if (gh != nullptr) z = hn::Add(z, hn::LoadU(d, gh + e));
    switch (f) {
      case CellActivation::kTanh:
        z = hn::Tanh(d, z);
        break;
      case CellActivation::kRelu:
        z = hn::Max(z, hn::Zero(d));
        break;
      case CellActivation::kSigmoid:
        z = Sigmoid(d, z);
        break;
    }
    hn::StoreU(z, d, h + e);
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace spruce::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace spruce::kernels {

HWY_EXPORT(LstmCell);
HWY_EXPORT(GruCell);
HWY_EXPORT(GruResetHidden);
HWY_EXPORT(RnnCell);

namespace {
double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }
}  // namespace

void lstm_cell(const float* gates_x, const float* gates_h, size_t count,
               const float* c_prev, float* c, float* h) {
  HWY_DYNAMIC_DISPATCH(LstmCell)(gates_x, gates_h, count, c_prev, c, h);
}

void lstm_cell_reference(const float* gates_x, const float* gates_h,
                         size_t count, const float* c_prev, float* c,
                         float* h) {
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

void gru_cell(const float* gates_x, const float* gates_h, size_t count,
              const float* h_prev, bool linear_before_reset, float* h) {
  HWY_DYNAMIC_DISPATCH(GruCell)
  (gates_x, gates_h, count, h_prev, linear_before_reset, h);
}

void gru_cell_reference(const float* gates_x, const float* gates_h,
                        size_t count, const float* h_prev,
                        bool linear_before_reset, float* h) {
  for (size_t e = 0; e < count; ++e) {
    const double z = sigmoid(double{gates_x[e]} + gates_h[e]);
    const double r = sigmoid(double{gates_x[count + e]} + gates_h[count + e]);
    const double recurrent = gates_h[2 * count + e];
    const double n =
        std::tanh(gates_x[2 * count + e] +
                  (linear_before_reset ? r * recurrent : recurrent));
    h[e] = static_cast<float>((1.0 - z) * n + z * h_prev[e]);
  }
}

void gru_reset_hidden(const float* gates_x, const float* gates_h, size_t count,
                      const float* h_prev, float* reset_h) {
  HWY_DYNAMIC_DISPATCH(GruResetHidden)
  (gates_x, gates_h, count, h_prev, reset_h);
}

void gru_reset_hidden_reference(const float* gates_x, const float* gates_h,
                                size_t count, const float* h_prev,
                                float* reset_h) {
  for (size_t e = 0; e < count; ++e) {
    const double r = sigmoid(double{gates_x[count + e]} + gates_h[count + e]);
    reset_h[e] = static_cast<float>(r * h_prev[e]);
  }
}

void rnn_cell(const float* gates_x, const float* gates_h, size_t count,
              CellActivation f, float* h) {
  HWY_DYNAMIC_DISPATCH(RnnCell)(gates_x, gates_h, count, f, h);
}

void rnn_cell_reference(const float* gates_x, const float* gates_h,
                        size_t count, CellActivation f, float* h) {
  for (size_t e = 0; e < count; ++e) {
    double z = gates_x[e];
    if (gates_h != nullptr) z += gates_h[e];
    switch (f) {
      case CellActivation::kTanh:
        z = std::tanh(z);
        break;
      case CellActivation::kRelu:
        z = std::max(z, 0.0);
        break;
      case CellActivation::kSigmoid:
        z = sigmoid(z);
        break;
    }
    h[e] = static_cast<float>(z);
  }
}

}  // namespace spruce::kernels
#endif  // HWY_ONCE
