// The elementwise and pooling kernels around convolutions, each beside its
// scalar reference on the same data: squeeze-excite's per-channel scale
// (NCHW and channels-last), the residual Add, and the channels-last global
// average pool, on shapes from EfficientNet and MobileNet. In place and
// hot in cache, as the engine runs them between convolutions; bytes/s
// counts every byte read and written.
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "spruce/kernels/elementwise.h"
#include "spruce/kernels/rows.h"

namespace spruce::kernels {
namespace {

std::vector<float> values(size_t n) {
  std::vector<float> v(n);
  for (size_t k = 0; k < n; ++k) v[k] = std::sin(static_cast<float>(k));
  return v;
}

using ArithFn = void (*)(Arith, ArithOperand, ArithOperand, size_t, size_t,
                         float*);

// x [C, H·W] times one value per channel, in place (NCHW), or x [H·W, C]
// times a row of C values (channels-last).
void BM_ChannelScale(benchmark::State& state, ArithFn fn, bool channels_last) {
  const auto c = static_cast<size_t>(state.range(0));
  const auto hw = static_cast<size_t>(state.range(1));
  std::vector<float> x = values(c * hw);
  const std::vector<float> s(c, 1.0f);
  for (auto _ : state) {
    if (channels_last) {
      fn(Arith::kMul, {x.data(), c, false}, {s.data(), 0, false}, hw, c,
         x.data());
    } else {
      fn(Arith::kMul, {x.data(), hw, false}, {s.data(), 1, true}, c, hw,
         x.data());
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * 2 * c * hw * sizeof(float)));
}

// a += b over equal shapes (a residual connection).
void BM_ResidualAdd(benchmark::State& state, ArithFn fn) {
  const auto n = static_cast<size_t>(state.range(0));
  std::vector<float> a = values(n);
  const std::vector<float> b(n, 0.0f);
  for (auto _ : state) {
    fn(Arith::kAdd, {a.data(), 0, false}, {b.data(), 0, false}, 1, n, a.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * 3 * n * sizeof(float)));
}

using MeanFn = void (*)(const float*, size_t, size_t, float*);

// The mean of each channel of a channels-last image [H·W, C].
void BM_MeanColumns(benchmark::State& state, MeanFn fn) {
  const auto c = static_cast<size_t>(state.range(0));
  const auto hw = static_cast<size_t>(state.range(1));
  const std::vector<float> x = values(c * hw);
  std::vector<float> y(c);
  for (auto _ : state) {
    fn(x.data(), hw, c, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * c * hw * sizeof(float)));
}

// [channels, pixels]: EfficientNet-B0's 56×56 and 7×7 stages, MobileNet's
// 14×14 one.
void channel_shapes(benchmark::internal::Benchmark* b) {
  b->Args({144, 56 * 56})->Args({672, 14 * 14})->Args({1152, 7 * 7});
}

BENCHMARK_CAPTURE(BM_ChannelScale, nchw, arith_rows, false)
    ->Apply(channel_shapes);
BENCHMARK_CAPTURE(BM_ChannelScale, nchw_reference, arith_rows_reference, false)
    ->Apply(channel_shapes);
BENCHMARK_CAPTURE(BM_ChannelScale, nhwc, arith_rows, true)
    ->Apply(channel_shapes);
BENCHMARK_CAPTURE(BM_ChannelScale, nhwc_reference, arith_rows_reference, true)
    ->Apply(channel_shapes);
BENCHMARK_CAPTURE(BM_ResidualAdd, kernel, arith_rows)->Arg(24 * 56 * 56);
BENCHMARK_CAPTURE(BM_ResidualAdd, reference, arith_rows_reference)
    ->Arg(24 * 56 * 56);
BENCHMARK_CAPTURE(BM_MeanColumns, kernel, mean_columns)->Apply(channel_shapes);
BENCHMARK_CAPTURE(BM_MeanColumns, reference, mean_columns_reference)
    ->Apply(channel_shapes);

}  // namespace
}  // namespace spruce::kernels

BENCHMARK_MAIN();
