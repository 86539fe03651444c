// The elementwise and pooling kernels around convolutions, each beside its
// scalar reference on the same data: squeeze-excite's per-channel scale
// (NCHW and channels-last), the residual Add, and the channels-last global
// average pool, on shapes from EfficientNet and MobileNet. In place and
// hot in cache, as the engine runs them between convolutions; bytes/s
// counts every byte read and written. The split of an image into a
// convolution's padded stride phases beside its reference. Max and average
// pooling beside
// oneDNN's pooling on the same image in NCHW, NHWC and its blocked layout
// (nChw8c, or nChw16c with AVX-512: its fastest), one thread (run with
// OMP_NUM_THREADS=1).
#include <benchmark/benchmark.h>

#include <cmath>
#include <dnnl.hpp>
#include <vector>

#include "spruce/kernels/elementwise.h"
#include "spruce/kernels/pool.h"
#include "spruce/kernels/rows.h"
#include "spruce/kernels/transpose.h"

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

using SplitFn = void (*)(const float*, const PhaseSplit&, float*);

// A convolution's padded stride-phase planes of every channel of an image
// (what the sparse convolution reads): {C, H (= W), stride, pad, phases
// read (4: all of stride 2's, 1: a 1x1 stride-2 window's one)}.
void BM_SplitPhases(benchmark::State& state, SplitFn fn) {
  const auto c = static_cast<size_t>(state.range(0));
  const auto hw = static_cast<size_t>(state.range(1));
  const auto stride = static_cast<size_t>(state.range(2));
  const auto pad = static_cast<size_t>(state.range(3));
  const auto read = static_cast<size_t>(state.range(4));
  std::vector<int> phase_plane(stride * stride, -1);
  for (size_t k = 0; k < read; ++k) phase_plane[k] = static_cast<int>(k);
  PhaseSplit s;
  s.h = s.w = hw;
  s.sh = s.sw = stride;
  s.top = s.left = pad;
  s.rows = s.pitch = (hw + 2 * pad + stride - 1) / stride;
  s.plane_size = s.rows * s.pitch;
  s.phase_plane = phase_plane.data();
  const std::vector<float> x = values(c * hw * hw);
  std::vector<float> planes(c * read * s.plane_size);
  for (auto _ : state) {
    for (size_t k = 0; k < c; ++k) {
      fn(x.data() + k * hw * hw, s, planes.data() + k * read * s.plane_size);
    }
    benchmark::DoNotOptimize(planes.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(
      state.iterations() * (x.size() + planes.size()) * sizeof(float)));
}

// ResNet's 3x3 stride-2 layers (56x56 and 14x14 inputs), its 1x1 stride-2
// downsample, and a 3x3 stride-1 layer's padded copy.
void split_shapes(benchmark::internal::Benchmark* b) {
  b->Args({64, 56, 2, 1, 4})
      ->Args({256, 14, 2, 1, 4})
      ->Args({1024, 14, 2, 0, 1})
      ->Args({64, 56, 1, 1, 1});
}

BENCHMARK_CAPTURE(BM_SplitPhases, kernel, split_phases)->Apply(split_shapes);
BENCHMARK_CAPTURE(BM_SplitPhases, reference, split_phases_reference)
    ->Apply(split_shapes);

// A pool's window from the benchmark's arguments: {C, H (= W), kernel,
// stride, pad, max (1) or average (0)}.
WindowShape pool_shape(const benchmark::State& state) {
  WindowShape s;
  s.channels = static_cast<size_t>(state.range(0));
  s.height = s.width = static_cast<size_t>(state.range(1));
  s.kernel_h = s.kernel_w = static_cast<size_t>(state.range(2));
  s.stride_h = s.stride_w = static_cast<size_t>(state.range(3));
  s.pad_top = s.pad_left = static_cast<size_t>(state.range(4));
  s.out_height = s.out_width =
      (s.height + 2 * s.pad_top - s.kernel_h) / s.stride_h + 1;
  return s;
}

PoolKind pool_kind(const benchmark::State& state) {
  return state.range(5) != 0 ? PoolKind::kMax : PoolKind::kAverage;
}

void BM_Pool(benchmark::State& state, bool channels_last) {
  const WindowShape s = pool_shape(state);
  const std::vector<float> x = values(s.channels * s.height * s.width);
  std::vector<float> y(s.channels * s.out_height * s.out_width);
  for (auto _ : state) {
    if (channels_last) {
      pool_nhwc(s, pool_kind(state), x.data(), y.data(), 0, s.out_height);
    } else {
      pool_nchw(s, pool_kind(state), x.data(), y.data(), 0, s.channels);
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(
      state.iterations() * (x.size() + y.size()) * sizeof(float)));
}

// oneDNN's pooling primitive on the same image, in `layout`.
void BM_PoolOneDnn(benchmark::State& state, dnnl::memory::format_tag layout) {
  using dims = dnnl::memory::dims;
  const WindowShape s = pool_shape(state);
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const auto c = static_cast<int64_t>(s.channels);
  const auto h = static_cast<int64_t>(s.height);
  const auto ho = static_cast<int64_t>(s.out_height);
  const auto k = static_cast<int64_t>(s.kernel_h);
  const auto stride = static_cast<int64_t>(s.stride_h);
  const auto pad = static_cast<int64_t>(s.pad_top);
  const dnnl::memory::desc src({1, c, h, h}, dnnl::memory::data_type::f32,
                               layout);
  const dnnl::memory::desc dst({1, c, ho, ho}, dnnl::memory::data_type::f32,
                               layout);
  const auto alg = pool_kind(state) == PoolKind::kMax
                       ? dnnl::algorithm::pooling_max
                       : dnnl::algorithm::pooling_avg_exclude_padding;
  const dnnl::pooling_v2_forward::primitive_desc pd(
      {dnnl::prop_kind::forward_inference, alg, src, dst, dims{stride, stride},
       dims{k, k}, dims{0, 0}, dims{pad, pad}, dims{pad, pad}},
      engine);
  dnnl::memory x(src, engine), y(dst, engine);
  const std::vector<float> v = values(src.get_size() / sizeof(float));
  std::copy(v.begin(), v.end(), static_cast<float*>(x.get_data_handle()));
  const dnnl::pooling_v2_forward pool(pd);
  for (auto _ : state) {
    pool.execute(stream, {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}});
    stream.wait();
  }
  state.SetLabel(pd.impl_info_str());
  state.SetBytesProcessed(static_cast<int64_t>(
      state.iterations() * (src.get_size() + dst.get_size())));
}

// ResNet's 3×3 stride-2 max pool, a 2×2 stride-2 one (VGG), a 3×3 stride-1
// max pool (Inception's branches) and the same as an average.
void pool_shapes(benchmark::internal::Benchmark* b) {
  b->Args({64, 112, 3, 2, 1, 1})
      ->Args({128, 56, 2, 2, 0, 1})
      ->Args({192, 28, 3, 1, 1, 1})
      ->Args({192, 28, 3, 1, 1, 0});
}

BENCHMARK_CAPTURE(BM_Pool, nchw, false)->Apply(pool_shapes);
BENCHMARK_CAPTURE(BM_Pool, nhwc, true)->Apply(pool_shapes);
BENCHMARK_CAPTURE(BM_PoolOneDnn, onednn_nchw, dnnl::memory::format_tag::nchw)
    ->Apply(pool_shapes);
BENCHMARK_CAPTURE(BM_PoolOneDnn, onednn_nhwc, dnnl::memory::format_tag::nhwc)
    ->Apply(pool_shapes);
BENCHMARK_CAPTURE(BM_PoolOneDnn, onednn_nChw8c,
                  dnnl::memory::format_tag::nChw8c)
    ->Apply(pool_shapes);
BENCHMARK_CAPTURE(BM_PoolOneDnn, onednn_nChw16c,
                  dnnl::memory::format_tag::nChw16c)
    ->Apply(pool_shapes);

}  // namespace
}  // namespace spruce::kernels

BENCHMARK_MAIN();
