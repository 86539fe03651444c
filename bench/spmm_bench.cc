// spruce's sparse kernels vs oneDNN dense matmul (and Eigen's sparse × dense)
// on the same weight shape, in the same binary and run: Y = W · X for
// W [out × in] magnitude-pruned to a sparsity (or block-pruned), X with N
// columns. Threads: OMP_NUM_THREADS (bench/run_spmm.sh runs 1 and all
// cores); spruce splits rows by non-zeros over them as the engine does,
// oneDNN uses the same OpenMP runtime, Eigen's sparse product is serial.
//
// Benchmarks are named  <impl>/<out>x<in>/N[/<sparsity %>]  so that
// bench/ratios.py can pair each sparse case with its dense twin.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <Eigen/Dense>
#include <Eigen/Sparse>
#include <algorithm>
#include <cmath>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <unordered_map>
#include <vector>

#include "bench_util.h"
#include "spruce/kernels/spmm.h"
#include "spruce/sparse_matrix.h"

namespace {

using spruce::bench::magnitude_pruned;
using spruce::bench::random_activations;

// Block pruning as the tools do it: drop the `sparsity` fraction of
// br × bc blocks with the smallest L1 norm.
std::vector<float> block_pruned(size_t rows, size_t cols, size_t br, size_t bc,
                                double sparsity) {
  std::vector<float> w = magnitude_pruned(rows, cols, 0.0);
  const size_t gr = rows / br, gc = cols / bc;
  std::vector<float> norms(gr * gc, 0.0f);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c)
      norms[(r / br) * gc + c / bc] += std::abs(w[r * cols + c]);
  }
  std::vector<float> sorted = norms;
  const size_t k =
      static_cast<size_t>(sparsity * static_cast<double>(norms.size()));
  if (k == 0) return w;
  std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end());
  const float threshold = sorted[k - 1];
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) {
      if (norms[(r / br) * gc + c / bc] <= threshold) w[r * cols + c] = 0.0f;
    }
  }
  return w;
}

// Row ranges of about equal work for the threads, as the engine splits them.
std::vector<size_t> split_rows(const uint32_t* row_ptr, size_t rows) {
  const size_t chunks = static_cast<size_t>(omp_get_max_threads());
  std::vector<size_t> bounds{0};
  size_t row = 0;
  for (size_t c = 1; c < chunks; ++c) {
    while (row < rows && row_ptr[row] < row_ptr[rows] * c / chunks) ++row;
    bounds.push_back(row);
  }
  bounds.push_back(rows);
  return bounds;
}

template <class Kernel>
void run_split(const std::vector<size_t>& bounds, const Kernel& kernel) {
  const auto chunks = static_cast<long>(bounds.size() - 1);
  if (chunks == 1) return kernel(bounds[0], bounds[1]);
#pragma omp parallel for schedule(static, 1)
  for (long c = 0; c < chunks; ++c) kernel(bounds[c], bounds[c + 1]);
}

void BM_SparseCsr(benchmark::State& state, size_t out, size_t in, size_t n,
                  double sparsity) {
  const auto dense = magnitude_pruned(out, in, sparsity);
  const spruce::CsrMatrix w =
      spruce::CsrMatrix::from_dense(dense.data(), out, in);
  const spruce::kernels::CsrView view = w.view();
  const auto bounds = split_rows(view.row_ptr, out);
  const auto x = random_activations(in * n);
  std::vector<float> y(out * n);
  for (auto _ : state) {
    run_split(bounds, [&](size_t begin, size_t end) {
      spruce::kernels::spmm_csr(view, x.data(), n, y.data(), {}, begin, end);
    });
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * out * in * n, benchmark::Counter::kIsIterationInvariantRate,
      benchmark::Counter::kIs1000);
  state.counters["nnz"] = static_cast<double>(w.nnz());
}

void BM_SparseBsr(benchmark::State& state, size_t out, size_t in, size_t n,
                  double sparsity, size_t br, size_t bc) {
  const auto dense = block_pruned(out, in, br, bc, sparsity);
  const spruce::BsrMatrix w =
      spruce::BsrMatrix::from_dense(dense.data(), out, in, br, bc);
  const spruce::kernels::BsrView view = w.view();
  const auto bounds = split_rows(view.row_ptr, view.row_blocks());
  const auto x = random_activations(in * n);
  std::vector<float> y(out * n);
  for (auto _ : state) {
    run_split(bounds, [&](size_t begin, size_t end) {
      spruce::kernels::spmm_bsr(view, x.data(), n, y.data(), {}, begin, end);
    });
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * out * in * n, benchmark::Counter::kIsIterationInvariantRate,
      benchmark::Counter::kIs1000);
}

// Eigen 3.4: row-major SparseMatrix times the same feature-major activations.
void BM_EigenSparse(benchmark::State& state, size_t out, size_t in, size_t n,
                    double sparsity) {
  using RowMajor =
      Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const auto dense = magnitude_pruned(out, in, sparsity);
  const Eigen::SparseMatrix<float, Eigen::RowMajor> w =
      Eigen::Map<const RowMajor>(dense.data(), static_cast<Eigen::Index>(out),
                                 static_cast<Eigen::Index>(in))
          .sparseView();
  const auto xv = random_activations(in * n);
  const RowMajor x = Eigen::Map<const RowMajor>(
      xv.data(), static_cast<Eigen::Index>(in), static_cast<Eigen::Index>(n));
  RowMajor y(static_cast<Eigen::Index>(out), static_cast<Eigen::Index>(n));
  for (auto _ : state) {
    y.noalias() = w * x;
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
}

// oneDNN dense, as PyTorch's Linear lays it out: Y[N × out] = X[N × in] · W^T.
void BM_OnednnDense(benchmark::State& state, size_t out, size_t in, size_t n) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const auto m = static_cast<dnnl::memory::dim>(n);
  const auto k = static_cast<dnnl::memory::dim>(in);
  const auto nn = static_cast<dnnl::memory::dim>(out);
  const dnnl::memory::desc x_md({m, k}, dt::f32, tag::ab);
  const dnnl::memory::desc w_md({k, nn}, dt::f32, tag::ba);
  const dnnl::memory::desc y_md({m, nn}, dt::f32, tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(x_md, w_md, y_md),
                                        engine);
  const dnnl::matmul matmul(pd);
  auto w = magnitude_pruned(out, in, 0.0);
  auto x = random_activations(in * n);
  std::vector<float> y(out * n);
  std::unordered_map<int, dnnl::memory> args = {
      {DNNL_ARG_SRC, dnnl::memory(x_md, engine, x.data())},
      {DNNL_ARG_WEIGHTS, dnnl::memory(w_md, engine, w.data())},
      {DNNL_ARG_DST, dnnl::memory(y_md, engine, y.data())}};
  for (auto _ : state) {
    matmul.execute(stream, args);
    stream.wait();
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * out * in * n, benchmark::Counter::kIsIterationInvariantRate,
      benchmark::Counter::kIs1000);
  state.SetLabel(pd.impl_info_str());
}

void register_all() {
  // BERT-like layers (n = 2048: batch 16 × sequence 128), and LSTM gate
  // matrices (4H x H) for H = 512, 1024.
  const std::pair<size_t, size_t> shapes[] = {{768, 768},   {3072, 768},
                                              {768, 3072},  {1024, 1024},
                                              {4096, 1024}, {2048, 512}};
  const std::pair<size_t, size_t> blocks[] = {
      {1, 4}, {4, 1}, {8, 1}, {16, 1}, {4, 4}};
  for (auto [out, in] : shapes) {
    for (size_t n : {1, 16, 128, 2048}) {
      const std::string shape = std::to_string(out) + "x" + std::to_string(in) +
                                "/" + std::to_string(n);
      benchmark::RegisterBenchmark(("dense/" + shape).c_str(), BM_OnednnDense,
                                   out, in, n);
      for (int pct : {50, 70, 80, 90, 95, 98}) {
        benchmark::RegisterBenchmark(
            ("csr/" + shape + "/" + std::to_string(pct)).c_str(), BM_SparseCsr,
            out, in, n, pct / 100.0);
      }
      for (auto [br, bc] : blocks) {
        benchmark::RegisterBenchmark(("bsr" + std::to_string(br) + "x" +
                                      std::to_string(bc) + "/" + shape + "/90")
                                         .c_str(),
                                     BM_SparseBsr, out, in, n, 0.9, br, bc);
      }
      benchmark::RegisterBenchmark(("eigen/" + shape + "/90").c_str(),
                                   BM_EigenSparse, out, in, n, 0.9);
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
