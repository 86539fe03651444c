// Softmax, layer normalization and means over rows, and means over
// columns (see spruce/kernels/rows.h).
#include <cmath>
#include <cstddef>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/src/rows.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// After foreach_target.h, which re-includes this file per target.
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "kernels/src/sweep-inl.h"
#include "spruce/kernels/rows.h"

HWY_BEFORE_NAMESPACE();
namespace spruce::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void SoftmaxRows(const float* HWY_RESTRICT x, size_t rows, size_t n,
                 float* y) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    // Max, with the tail in a masked load (lanes past n read as -inf).
    auto vmax = hn::Set(d, -HUGE_VALF);
    size_t j = 0;
    for (; j + lanes <= n; j += lanes) vmax = hn::Max(vmax, hn::LoadU(d, xr + j));
    float m = hn::GetLane(hn::MaxOfLanes(d, vmax));
    for (size_t t = j; t < n; ++t) m = std::fmax(m, xr[t]);
    // exp(x - max), stored, and summed.
    const auto vm = hn::Set(d, m);
    auto vsum = hn::Zero(d);
    for (j = 0; j + lanes <= n; j += lanes) {
      const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, xr + j), vm));
      hn::StoreU(e, d, yr + j);
      vsum = hn::Add(vsum, e);
    }
    float sum = hn::GetLane(hn::SumOfLanes(d, vsum));
    for (size_t t = j; t < n; ++t) {
      yr[t] = std::exp(xr[t] - m);
      sum += yr[t];
    }
    const auto inv = hn::Set(d, 1.0f / sum);
    for (j = 0; j + lanes <= n; j += lanes) {
      hn::StoreU(hn::Mul(hn::LoadU(d, yr + j), inv), d, yr + j);
    }
    for (size_t t = j; t < n; ++t) yr[t] *= 1.0f / sum;
  }
}

void LayerNormRows(const float* HWY_RESTRICT x, size_t rows, size_t n,
                   const float* HWY_RESTRICT scale,
                   const float* HWY_RESTRICT bias, float epsilon, float* y) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    // Two passes (mean, then centered squares): as exact as the reference
    // for rows whose mean is large against their spread.
    auto vsum = hn::Zero(d);
    size_t j = 0;
    for (; j + lanes <= n; j += lanes) vsum = hn::Add(vsum, hn::LoadU(d, xr + j));
    float sum = hn::GetLane(hn::SumOfLanes(d, vsum));
    for (size_t t = j; t < n; ++t) sum += xr[t];
    const float mean = sum / static_cast<float>(n);
    const auto vmean = hn::Set(d, mean);
    auto vsq = hn::Zero(d);
    for (j = 0; j + lanes <= n; j += lanes) {
      const auto c = hn::Sub(hn::LoadU(d, xr + j), vmean);
      vsq = hn::MulAdd(c, c, vsq);
    }
    float sq = hn::GetLane(hn::SumOfLanes(d, vsq));
    for (size_t t = j; t < n; ++t) sq += (xr[t] - mean) * (xr[t] - mean);
    const float inv_std =
        1.0f / std::sqrt(sq / static_cast<float>(n) + epsilon);
    const auto vinv = hn::Set(d, inv_std);
    for (j = 0; j + lanes <= n; j += lanes) {
      auto v = hn::Mul(hn::Mul(hn::Sub(hn::LoadU(d, xr + j), vmean), vinv),
                       hn::LoadU(d, scale + j));
      if (bias != nullptr) v = hn::Add(v, hn::LoadU(d, bias + j));
      hn::StoreU(v, d, yr + j);
    }
    for (size_t t = j; t < n; ++t) {
      yr[t] = (xr[t] - mean) * inv_std * scale[t] +
              (bias != nullptr ? bias[t] : 0.0f);
    }
  }
}

void MeanRows(const float* HWY_RESTRICT x, size_t rows, size_t n,
              float* HWY_RESTRICT y) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  for (size_t r = 0; r < rows; ++r) {
    const float* HWY_RESTRICT xr = x + r * n;
    // Four accumulators: the adds' latency, not their throughput, would
    // bound one.
    auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
    size_t j = 0;
    for (; j + 4 * lanes <= n; j += 4 * lanes) {
      s0 = hn::Add(s0, hn::LoadU(d, xr + j));
      s1 = hn::Add(s1, hn::LoadU(d, xr + j + lanes));
      s2 = hn::Add(s2, hn::LoadU(d, xr + j + 2 * lanes));
      s3 = hn::Add(s3, hn::LoadU(d, xr + j + 3 * lanes));
    }
    for (; j + lanes <= n; j += lanes) s0 = hn::Add(s0, hn::LoadU(d, xr + j));
    float sum = hn::GetLane(
        hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
    for (; j < n; ++j) sum += xr[j];
    y[r] = sum / static_cast<float>(n);
  }
}

// Column sums four vectors of columns at a time, every row into the same
// registers (the adds of one column are a chain, so four chains hide their
// latency); the last columns in narrower vectors.
void MeanColumns(const float* HWY_RESTRICT x, size_t rows, size_t n,
                 float* HWY_RESTRICT y) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const auto scale = hn::Set(d, 1.0f / static_cast<float>(rows));
  size_t c = 0;
  for (; c + 4 * lanes <= n; c += 4 * lanes) {
    auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
    for (size_t r = 0; r < rows; ++r) {
      const float* HWY_RESTRICT xr = x + r * n + c;
      s0 = hn::Add(s0, hn::LoadU(d, xr));
      s1 = hn::Add(s1, hn::LoadU(d, xr + lanes));
      s2 = hn::Add(s2, hn::LoadU(d, xr + 2 * lanes));
      s3 = hn::Add(s3, hn::LoadU(d, xr + 3 * lanes));
    }
    hn::StoreU(hn::Mul(s0, scale), d, y + c);
    hn::StoreU(hn::Mul(s1, scale), d, y + c + lanes);
    hn::StoreU(hn::Mul(s2, scale), d, y + c + 2 * lanes);
    hn::StoreU(hn::Mul(s3, scale), d, y + c + 3 * lanes);
  }
  x += c, y += c;
  ForEachWidth(n - c, [&](auto dc, size_t i) {
    auto sum = hn::Zero(dc);
    for (size_t r = 0; r < rows; ++r)
      sum = hn::Add(sum, hn::LoadU(dc, x + r * n + i));
    hn::StoreU(hn::Mul(sum, hn::Set(dc, 1.0f / static_cast<float>(rows))), dc,
               y + i);
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace spruce::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace spruce::kernels {

HWY_EXPORT(SoftmaxRows);
HWY_EXPORT(LayerNormRows);
HWY_EXPORT(MeanRows);
HWY_EXPORT(MeanColumns);

void mean_rows(const float* x, size_t rows, size_t n, float* y) {
  if (rows == 0 || n == 0) return;
  HWY_DYNAMIC_DISPATCH(MeanRows)(x, rows, n, y);
}

void mean_rows_reference(const float* x, size_t rows, size_t n, float* y) {
  for (size_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (size_t j = 0; j < n; ++j) sum += x[r * n + j];
    y[r] = static_cast<float>(sum / static_cast<double>(n));
  }
}

void mean_columns(const float* x, size_t rows, size_t n, float* y) {
  if (rows == 0 || n == 0) return;
  HWY_DYNAMIC_DISPATCH(MeanColumns)(x, rows, n, y);
}

void mean_columns_reference(const float* x, size_t rows, size_t n, float* y) {
  for (size_t c = 0; c < n; ++c) {
    double sum = 0;
    for (size_t r = 0; r < rows; ++r) sum += x[r * n + c];
    y[c] = static_cast<float>(sum / static_cast<double>(rows));
  }
}

void softmax_rows(const float* x, size_t rows, size_t n, float* y) {
  if (rows == 0 || n == 0) return;
  HWY_DYNAMIC_DISPATCH(SoftmaxRows)(x, rows, n, y);
}

void layer_norm_rows(const float* x, size_t rows, size_t n, const float* scale,
                     const float* bias, float epsilon, float* y) {
  if (rows == 0 || n == 0) return;
  HWY_DYNAMIC_DISPATCH(LayerNormRows)(x, rows, n, scale, bias, epsilon, y);
}

void softmax_rows_reference(const float* x, size_t rows, size_t n, float* y) {
  for (size_t r = 0; r < rows; ++r) {
    double m = -HUGE_VAL;
    for (size_t j = 0; j < n; ++j) m = std::fmax(m, x[r * n + j]);
    double sum = 0;
    for (size_t j = 0; j < n; ++j) sum += std::exp(x[r * n + j] - m);
    for (size_t j = 0; j < n; ++j) {
      y[r * n + j] = static_cast<float>(std::exp(x[r * n + j] - m) / sum);
    }
  }
}

void layer_norm_rows_reference(const float* x, size_t rows, size_t n,
                               const float* scale, const float* bias,
                               float epsilon, float* y) {
  for (size_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (size_t j = 0; j < n; ++j) mean += x[r * n + j];
    mean /= static_cast<double>(n);
    for (size_t j = 0; j < n; ++j) {
      var += (x[r * n + j] - mean) * (x[r * n + j] - mean);
    }
    var /= static_cast<double>(n);
    const double inv = 1.0 / std::sqrt(var + epsilon);
    for (size_t j = 0; j < n; ++j) {
      y[r * n + j] = static_cast<float>((x[r * n + j] - mean) * inv * scale[j] +
                                        (bias != nullptr ? bias[j] : 0.0));
    }
  }
}

}  // namespace spruce::kernels
#endif  // HWY_ONCE
