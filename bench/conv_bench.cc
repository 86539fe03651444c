// The sparse convolution beside the CSR Linear kernel on the same non-zeros
// and beside oneDNN's dense convolution, per layer shape, in one binary and
// run (issue 19 item 1: the gap between the sparse conv and the sparse GEMM
// it is built on). Each runs as the engine runs it:
//
//   onednn/<shape>/<N>           ConvOp on oneDNN, the unpruned weight,
//                                channels-last activations (as dense convs
//                                pass them to each other)
//   sparse-csr/<shape>/<N>/90    ConvOp's sparse kernel, the weight pruned
//                                90%, NCHW activations (its layout)
//   sparse-csr-<layout>/<shape>/<N>/90  the same in one layout of its
//                                input planes (phases, aligned; images, at
//                                batch 16: ConvOp::SparsePlanes), where
//                                load keeps the faster
//   sparse-bsr<R>x1/<shape>/<N>/90  the same, the weight pruned in R×1
//                                blocks (90% of blocks), on the BSR kernel
//   linear-csr/<shape>/<N>/90    the Linear op's CSR kernel on the same
//                                pruned weight [O, C·kh·kw] times an X of
//                                [C·kh·kw, N·Ho·Wo] (feature-major, as
//                                between sparse Linears): the product the
//                                convolution is, without the convolution
//
// and, for depthwise convolutions (group = channels, dense weights):
//
//   dw-onednn/<shape>/<N>        ConvOp on oneDNN, channels-last
//   dw-nhwc/<shape>/<N>          spruce's depthwise kernel, channels-last
//   dw-nchw/<shape>/<N>          the same kernel on NCHW (between sparse
//                                convolutions)
//   dw-nchw-<method>/<shape>/1   one of its NCHW methods (columns, blocks,
//                                direct; depthwise.h), the kernel called
//                                directly on one image, 1 thread
//
// and the CSR kernel alone with everything in L1, the ceiling of its loop:
//
//   csr-l1/<nnz>/<align>         kernels::spmm_csr_strided, 64 rows of
//                                <nnz> non-zeros at random offsets into 16
//                                KiB of X (rounded down to <align> floats:
//                                8 and 16 keep every vector load within a
//                                cache line), 256 outputs per row, 1 thread
//
// <shape> is <O>x<C>x<H>k<k>s<stride>. GFLOP/s counts the multiply-adds the
// kernel does: the non-zeros times the output pixels when sparse, all of W
// when dense. Threads: OMP_NUM_THREADS (all cores if unset).
// BENCH_COLD_CACHES=1: caches evicted before each iteration (bench_util.h).
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bench_util.h"
#include "conv_op.h"
#include "linear_op.h"
#include "op_params.h"
#include "spruce/kernels/depthwise.h"
#include "spruce/kernels/spmm.h"

namespace {

using spruce::LinearKernel;
using spruce::bench::block_pruned;
using spruce::bench::evict_caches;
using spruce::bench::magnitude_pruned;
using spruce::bench::make_weight;
using spruce::bench::random_activations;

struct ConvShape {
  size_t out, in, size, kernel, stride;
  std::string name() const {
    return std::to_string(out) + "x" + std::to_string(in) + "x" +
           std::to_string(size) + "k" + std::to_string(kernel) + "s" +
           std::to_string(stride);
  }
};

spruce::SpatialParams params_of(const ConvShape& s) {
  spruce::SpatialParams p;
  p.kernel[0] = p.kernel[1] = static_cast<uint32_t>(s.kernel);
  p.strides[0] = p.strides[1] = static_cast<uint32_t>(s.stride);
  const auto pad = static_cast<uint32_t>(s.kernel / 2);
  for (int k = 0; k < 4; ++k) p.pads[k] = pad;
  return p;
}

// Output rows (and columns) of `s`, padded to keep the size at stride 1.
size_t output_size(const ConvShape& s) {
  return (s.size + 2 * (s.kernel / 2) - s.kernel) / s.stride + 1;
}

// The rate of `multiply_adds` per iteration, as GFLOP/s.
void report_rate(benchmark::State& state, size_t multiply_adds) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * static_cast<double>(multiply_adds),
                         benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
}

// Times the ConvOp of weight `w` (with a random bias and `activation`) with
// only `kernel` allowed, on random activations of `s` at `batch` in the
// given layout, if it runs `kernel` (else the row says so).
void time_conv(benchmark::State& state, LinearKernel kernel, const ConvShape& s,
               size_t batch, const spruce::WeightDesc& w,
               const spruce::SpatialParams& p,
               spruce::kernels::Activation activation, bool channels_last,
               std::optional<spruce::ConvOp::SparsePlanes> layout = {}) {
  const spruce::bench::Bias b(random_activations(s.out));
  const int threads = omp_get_max_threads();
  const spruce::LinearPlanOptions options =
      spruce::bench::only(spruce::kernel_bit(kernel), threads);
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  const spruce::Shape xs = {
      static_cast<int64_t>(batch), static_cast<int64_t>(s.in),
      static_cast<int64_t>(s.size), static_cast<int64_t>(s.size)};
  spruce::ConvOp op(w, &b.desc, p, activation, /*residual=*/false, xs, options,
                    engine);
  if (op.kernel() != kernel) {
    state.SkipWithError("the kernel does not run this weight");
    return;
  }
  if (layout) op.use_sparse_planes(*layout);
  const auto x = random_activations(batch * s.in * s.size * s.size);
  const size_t ho = output_size(s);
  std::vector<float> y(batch * s.out * ho * ho);
  // Once untimed: the first call at a shape builds oneDNN's primitive and
  // times its layouts, once per shape in a service, and a batch-16 row runs
  // too few iterations to hide it.
  op.run(x.data(), xs, y.data(), channels_last, threads);
  for (auto _ : state) {
    evict_caches(state);
    op.run(x.data(), xs, y.data(), channels_last, threads);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  report_rate(state, op.multiply_adds(xs));
}

void time_pruned(benchmark::State& state, LinearKernel kernel,
                 const ConvShape& s, size_t batch, size_t block_rows,
                 std::optional<spruce::ConvOp::SparsePlanes> layout) {
  const size_t window = s.kernel * s.kernel;
  const size_t k = s.in * window;
  const double sparsity = kernel == LinearKernel::kOneDnn ? 0.0 : 0.9;
  const auto w = make_weight(
      block_rows > 1 ? block_pruned(s.out, k, block_rows, 1, sparsity)
                     : magnitude_pruned(s.out, k, sparsity),
      s.out, k, kernel, block_rows, 1);
  time_conv(state, kernel, s, batch, w->desc, params_of(s),
            spruce::kernels::Activation::kRelu, kernel == LinearKernel::kOneDnn,
            layout);
}

void BM_Conv(benchmark::State& state, LinearKernel kernel, ConvShape s,
             size_t batch, size_t block_rows) {
  time_pruned(state, kernel, s, batch, block_rows, std::nullopt);
}

void BM_ConvPlanes(benchmark::State& state, ConvShape s, size_t batch,
                   spruce::ConvOp::SparsePlanes layout) {
  time_pruned(state, LinearKernel::kCsr, s, batch, 1, layout);
}

void BM_Depthwise(benchmark::State& state, LinearKernel kernel,
                  bool channels_last, ConvShape s, size_t batch) {
  const size_t window = s.kernel * s.kernel;
  const auto w = make_weight(random_activations(s.out * window), s.out, window,
                             LinearKernel::kOneDnn, 1, 1);
  spruce::SpatialParams p = params_of(s);
  p.group = static_cast<uint32_t>(s.in);
  time_conv(state, kernel, s, batch, w->desc, p,
            spruce::kernels::Activation::kRelu6, channels_last);
}

// One NCHW method of the depthwise kernel, called directly on one image
// (ConvOp's dw-nchw keeps whichever its timing at load found fastest).
void BM_DepthwiseNchwMethod(benchmark::State& state,
                            spruce::kernels::DepthwiseNchw method,
                            ConvShape s) {
  spruce::kernels::DepthwiseShape d;
  const auto size = static_cast<int64_t>(s.size);
  static_cast<spruce::kernels::WindowShape&>(d) = spruce::window_of(
      params_of(s), {1, static_cast<int64_t>(s.in), size, size});
  d.multiplier = 1;
  if (method == spruce::kernels::DepthwiseNchw::kDirect &&
      !spruce::kernels::depthwise_direct_applies(d)) {
    state.SkipWithError("the direct method does not run this window");
    return;
  }
  const auto x = random_activations(s.in * s.size * s.size);
  const auto w = random_activations(s.in * s.kernel * s.kernel);
  const auto bias = random_activations(s.in);
  spruce::kernels::Epilogue e;
  e.bias = bias.data();
  e.activation = spruce::kernels::Activation::kRelu6;
  std::vector<float> y(s.in * d.out_height * d.out_width);
  for (auto _ : state) {
    evict_caches(state);
    spruce::kernels::depthwise_conv_nchw(d, x.data(), w.data(), e, y.data(), 0,
                                         s.in, method);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  report_rate(state, s.in * s.kernel * s.kernel * d.out_height * d.out_width);
}

void BM_LinearSameNonZeros(benchmark::State& state, ConvShape s, size_t batch) {
  const size_t k = s.in * s.kernel * s.kernel;
  const size_t ho = output_size(s);
  const size_t n = batch * ho * ho;
  const auto w = make_weight(magnitude_pruned(s.out, k, 0.9), s.out, k,
                             LinearKernel::kCsr, 1, 1);
  const spruce::bench::Bias b(random_activations(s.out));
  const int threads = omp_get_max_threads();
  const spruce::LinearPlanOptions options =
      spruce::bench::only(spruce::kernel_bit(LinearKernel::kCsr), threads);
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  const spruce::LinearOp op(w->desc, &b.desc,
                            spruce::kernels::Activation::kRelu,
                            /*x_feature_major=*/true,
                            /*y_feature_major=*/true, options, engine);
  if (op.kernel_for(n) != LinearKernel::kCsr) {
    state.SkipWithError("the kernel does not run this weight");
    return;
  }
  const auto x = random_activations(k * n);
  std::vector<float> y(s.out * n);
  for (auto _ : state) {
    evict_caches(state);
    op.run(x.data(), n, y.data(), threads);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  report_rate(state, op.multiply_adds(n));
}

void BM_CsrInL1(benchmark::State& state, size_t nnz, size_t align) {
  constexpr size_t kRows = 64, kOutputs = 256, kWindow = 4096;  // 16 KiB
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> offset(0, kWindow - 1);
  std::vector<uint32_t> row_ptr = {0}, cols;
  for (size_t r = 0; r < kRows; ++r) {
    for (size_t e = 0; e < nnz; ++e) {
      cols.push_back(static_cast<uint32_t>(offset(rng) / align * align));
    }
    std::sort(cols.end() - static_cast<std::ptrdiff_t>(nnz), cols.end());
    row_ptr.push_back(static_cast<uint32_t>(cols.size()));
  }
  const auto values = random_activations(cols.size());
  const auto bias = random_activations(kRows);
  spruce::kernels::CsrView w;
  w.rows = kRows;
  w.cols = kWindow;
  w.row_ptr = row_ptr.data();
  w.col_idx = cols.data();
  w.values = values.data();
  // X from a 64-byte boundary, readable kOutputs past every offset.
  auto storage = random_activations(kWindow + kOutputs + 16);
  float* x = storage.data();
  while (reinterpret_cast<uintptr_t>(x) % 64 != 0) ++x;
  std::vector<float> y(kRows * kOutputs);
  const spruce::kernels::Epilogue e{bias.data(),
                                    spruce::kernels::Activation::kRelu, false};
  for (auto _ : state) {
    spruce::kernels::spmm_csr_strided(w, x, 1, kOutputs, y.data(), kOutputs, e,
                                      0, kRows);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  report_rate(state, cols.size() * kOutputs);
}

void register_all() {
  // ResNet's 3x3 stages (stride 1 and the stride-2 entries), its 7x7 stem,
  // the 3x3 stride-2 stem of MobileNet and EfficientNet, ResNet-50's,
  // MobileNet's and EfficientNet's 1x1 expansions and projections, ResNet-50's
  // last 1x1 stride-2 downsample, and squeeze-excite's 1x1 convolutions of
  // one pixel.
  const ConvShape shapes[] = {
      {64, 64, 56, 3, 1},     {128, 128, 28, 3, 1}, {256, 256, 14, 3, 1},
      {512, 512, 7, 3, 1},    {128, 64, 56, 3, 2},  {512, 256, 14, 3, 2},
      {64, 3, 224, 7, 2},     {32, 3, 224, 3, 2},   {256, 64, 56, 1, 1},
      {64, 256, 56, 1, 1},    {144, 24, 56, 1, 1},  {96, 16, 112, 1, 1},
      {1280, 320, 7, 1, 1},   {2048, 512, 7, 1, 1}, {256, 1024, 14, 1, 1},
      {2048, 1024, 14, 1, 2}, {8, 32, 1, 1, 1},     {1152, 48, 1, 1, 1}};
  for (const ConvShape& s : shapes) {
    for (size_t batch : {1, 16}) {
      const std::string tail = s.name() + "/" + std::to_string(batch);
      benchmark::RegisterBenchmark(("onednn/" + tail).c_str(), BM_Conv,
                                   LinearKernel::kOneDnn, s, batch, 1);
      benchmark::RegisterBenchmark(("sparse-csr/" + tail + "/90").c_str(),
                                   BM_Conv, LinearKernel::kCsr, s, batch, 1);
      using Planes = spruce::ConvOp::SparsePlanes;
      for (const auto& [name, layout] :
           {std::pair{"phases", Planes::kPhases},
            std::pair{"aligned", Planes::kAligned},
            std::pair{"images", Planes::kImages}}) {
        if (layout == Planes::kImages &&
            batch < *std::rbegin(spruce::ConvOp::kImageGroups)) {
          continue;
        }
        benchmark::RegisterBenchmark(
            ("sparse-csr-" + std::string(name) + "/" + tail + "/90").c_str(),
            BM_ConvPlanes, s, batch, layout);
      }
      for (size_t rows : {4, 8}) {
        benchmark::RegisterBenchmark(
            ("sparse-bsr" + std::to_string(rows) + "x1/" + tail + "/90")
                .c_str(),
            BM_Conv, LinearKernel::kBsr, s, batch, rows);
      }
      benchmark::RegisterBenchmark(("linear-csr/" + tail + "/90").c_str(),
                                   BM_LinearSameNonZeros, s, batch);
    }
  }
  // Rows as long as a channel chunk's (16) and a whole 3x3 row's at 90%.
  for (size_t nnz : {16, 64}) {
    for (size_t align : {1, 8, 16}) {
      benchmark::RegisterBenchmark(
          ("csr-l1/" + std::to_string(nnz) + "/" + std::to_string(align))
              .c_str(),
          BM_CsrInL1, nnz, align);
    }
  }
  // MobileNet v2's depthwise layers (3x3, stride 1 and 2), EfficientNet's
  // and MobileNet v3's 5x5 ones, channel counts on and off the vector width.
  const ConvShape depthwise[] = {{32, 32, 112, 3, 1},  {96, 96, 112, 3, 2},
                                 {144, 144, 56, 3, 1}, {144, 144, 56, 3, 2},
                                 {192, 192, 28, 3, 1}, {384, 384, 14, 3, 1},
                                 {960, 960, 7, 3, 1},  {240, 240, 28, 5, 2},
                                 {672, 672, 14, 5, 1}, {120, 120, 28, 5, 1}};
  for (const ConvShape& s : depthwise) {
    for (size_t batch : {1, 16}) {
      const std::string tail = s.name() + "/" + std::to_string(batch);
      benchmark::RegisterBenchmark(("dw-onednn/" + tail).c_str(), BM_Depthwise,
                                   LinearKernel::kOneDnn, true, s, batch);
      benchmark::RegisterBenchmark(("dw-nhwc/" + tail).c_str(), BM_Depthwise,
                                   LinearKernel::kDepthwise, true, s, batch);
      benchmark::RegisterBenchmark(("dw-nchw/" + tail).c_str(), BM_Depthwise,
                                   LinearKernel::kDepthwise, false, s, batch);
    }
    using spruce::kernels::DepthwiseNchw;
    for (const auto& [name, method] :
         {std::pair{"columns", DepthwiseNchw::kColumns},
          std::pair{"blocks", DepthwiseNchw::kChannelBlocks},
          std::pair{"direct", DepthwiseNchw::kDirect}}) {
      benchmark::RegisterBenchmark(
          ("dw-nchw-" + std::string(name) + "/" + s.name() + "/1").c_str(),
          BM_DepthwiseNchwMethod, method, s);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
