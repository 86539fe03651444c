// Every Linear kernel on the same weight shapes, in the same binary and run,
// each as the engine runs it: through the Linear op (runtime/src/linear_op.h)
// restricted to that one kernel, reading and writing row-major activations
// (X [N × in], Y [N × out], as a dense model lays them out), so every layout
// conversion a kernel needs is in its time, bias and activation fused.
//
//   onednn/<out>x<in>/<N>          oneDNN matmul, weights packed at load
//   dense-packed/<out>x<in>/<N>    spruce's dense kernel for a few rows
//   <kernel>/<out>x<in>/<N>/<pct>  a sparse kernel on W magnitude-pruned
//                                  to pct% (sparse-lookup, sparse-csr,
//                                  sparse-bsr<R>x<C> on 90% of blocks)
//
// The dense ones run the unpruned weight: the best of them is the
// yardstick bench/ratios.py divides by. Threads: OMP_NUM_THREADS
// (bench/run_spmm.sh runs 1 and all cores), split by work as the engine
// splits them.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <string>
#include <vector>

#include "bench_util.h"
#include "linear_op.h"
#include "spruce/kernels/block_shapes.h"
#include "spruce/sparse_matrix.h"

namespace {

using spruce::LinearKernel;
using spruce::bench::block_pruned;
using spruce::bench::magnitude_pruned;
using spruce::bench::make_weight;
using spruce::bench::random_activations;

void BM_Linear(benchmark::State& state, LinearKernel kernel, size_t out,
               size_t in, size_t n, double sparsity, size_t br, size_t bc) {
  const std::vector<float> dense =
      br * bc > 1 ? block_pruned(out, in, br, bc, sparsity)
                  : magnitude_pruned(out, in, sparsity);
  const auto w = make_weight(dense, out, in, kernel, br, bc);
  const spruce::bench::Bias b(random_activations(out));
  const int threads = omp_get_max_threads();
  const spruce::LinearPlanOptions options =
      spruce::bench::only(spruce::kernel_bit(kernel), threads);
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  const spruce::LinearOp op(w->desc, &b.desc,
                            spruce::kernels::Activation::kRelu,
                            /*x_feature_major=*/false,
                            /*y_feature_major=*/false, options, engine);
  if (op.kernel_for(n) != kernel) {
    state.SkipWithError("the kernel does not run this weight");
    return;
  }
  const auto x = random_activations(in * n);
  std::vector<float> y(out * n);
  for (auto _ : state) {
    op.run(x.data(), n, y.data(), threads);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * static_cast<double>(op.multiply_adds(n)),
      benchmark::Counter::kIsIterationInvariantRate,
      benchmark::Counter::kIs1000);
}

void register_all() {
  // BERT-like layers, the small-batch Linear of bench/run_small_batch.py,
  // and LSTM gate matrices (4H × H) for H = 512, 1024.
  const std::pair<size_t, size_t> shapes[] = {
      {768, 768}, {3072, 768}, {768, 3072}, {2048, 1024}, {4096, 1024},
      {2048, 512}};
  const auto& blocks = spruce::kernels::kBlockShapes;
  for (auto [out, in] : shapes) {
    for (size_t n : {1, 2, 4, 8, 16, 64, 128}) {
      const std::string shape = std::to_string(out) + "x" + std::to_string(in) +
                                "/" + std::to_string(n);
      for (LinearKernel k : {LinearKernel::kOneDnn, LinearKernel::kDensePacked}) {
        if (k == LinearKernel::kDensePacked &&
            n > spruce::LinearOp::kPackedMaxBatch) {
          continue;
        }
        benchmark::RegisterBenchmark(
            (std::string(spruce::linear_kernel_name(k)) + "/" + shape).c_str(),
            BM_Linear, k, out, in, n, 0.0, 1, 1);
      }
      for (int pct : {80, 90, 95}) {
        for (LinearKernel k : {LinearKernel::kLookup, LinearKernel::kCsr}) {
          if (k == LinearKernel::kLookup &&
              n > spruce::LinearOp::kLookupMaxBatch) {
            continue;
          }
          benchmark::RegisterBenchmark(
              (std::string(spruce::linear_kernel_name(k)) + "/" + shape + "/" +
               std::to_string(pct))
                  .c_str(),
              BM_Linear, k, out, in, n, pct / 100.0, 1, 1);
        }
      }
      for (auto [br, bc] : blocks) {
        benchmark::RegisterBenchmark(
            ("sparse-bsr" + std::to_string(br) + "x" + std::to_string(bc) +
             "/" + shape + "/90")
                .c_str(),
            BM_Linear, LinearKernel::kBsr, out, in, n, 0.9, br, bc);
      }
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
