// A pruned LSTM layer in spruce vs the fastest dense LSTM, same shapes, same
// binary and run: input = hidden (512, 1024), sequence 50, batch 1 and 16,
// weights magnitude-pruned to 0/70/90/95%.
//
//  onednn/lstm<H>/<batch>             oneDNN lstm_forward on the dense weights
//                                     (X and Y row-major, as it wants them)
//  dense/lstm<H>/<batch>              the dense model with
//                                     EngineOptions::force_dense: the faster
//                                     of oneDNN's LSTM and spruce's step loop
//                                     on dense kernels, timed at load
//  spruce/lstm<H>/<batch>/<sparsity>  a one-LSTM .spruce model through
//                                     Engine::run, kernels chosen at load as
//                                     for any model (weights stored CSR
//                                     from 40% zeros, as the converter does)
//
// Threads: OMP_NUM_THREADS (bench/run_lstm.sh runs 1). bench/lstm_ratios.py
// divides the faster dense time by each spruce case's.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cmath>
#include <filesystem>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unistd.h>
#include <vector>

#include "bench_util.h"
#include "dense_lstm.h"
#include "spruce/converters/model_def.h"
#include "spruce/spruce.h"

namespace {

constexpr size_t kSeq = 50;

using spruce::bench::magnitude_pruned;
using spruce::bench::random_activations;

// W [4H × H] or R [4H × H], scaled as PyTorch initializes (1/√H) so the
// gates are not all saturated.
std::vector<float> lstm_weight(size_t hidden, double sparsity, unsigned seed) {
  std::vector<float> w = magnitude_pruned(4 * hidden, hidden, sparsity, seed);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hidden));
  for (float& v : w) v *= scale;
  return w;
}

// One forward LSTM, X [seq, ?, H] → Y [seq, ?, H], written as a .spruce file.
std::string write_model(size_t hidden, double sparsity) {
  namespace cv = spruce::converters;
  const auto h = static_cast<int64_t>(hidden);
  cv::ModelDef model;
  model.values = {{"x", {int64_t{kSeq}, -1, h}}, {"y", {int64_t{kSeq}, -1, h}}};
  auto add = [&](const char* name, spruce::Shape shape, std::vector<float> v) {
    cv::WeightDef w;
    w.name = name;
    w.shape = std::move(shape);
    if (w.shape.size() == 2 && sparsity >= 0.4) {
      w.format = cv::WeightFormat::kCsr;
      w.csr = spruce::CsrMatrix::from_dense(v.data(), 4 * hidden, hidden);
    } else {
      w.dense = std::move(v);
    }
    model.weights.push_back(std::move(w));
  };
  add("W", {4 * h, h}, lstm_weight(hidden, sparsity, 1));
  add("R", {4 * h, h}, lstm_weight(hidden, sparsity, 2));
  add("B", {4 * h}, std::vector<float>(4 * hidden, 0.01f));
  cv::NodeDef node;
  node.name = "lstm";
  node.op = spruce::OpKind::kLstm;
  node.inputs = {0};
  node.outputs = {1};
  node.weights = {0, 1, 2};
  spruce::LstmParams params;
  params.hidden_size = static_cast<uint32_t>(hidden);
  params.merged_output = true;
  spruce::set_lstm_params(&node.attrs, params);
  model.nodes.push_back(node);
  model.inputs = {0};
  model.outputs = {1};
  const std::string path =
      (std::filesystem::temp_directory_path() /
       ("spruce_lstm_bench_" + std::to_string(::getpid()) + "_" +
        std::to_string(hidden) + "_" + std::to_string(sparsity) + ".spruce"))
          .string();
  cv::write_model(model, path);
  return path;
}

void BM_Spruce(benchmark::State& state, size_t hidden, size_t batch,
               double sparsity, bool force_dense) {
  const std::string path = write_model(hidden, sparsity);
  spruce::EngineOptions options;
  options.num_threads = omp_get_max_threads();
  options.force_dense = force_dense;
  const spruce::Engine engine = spruce::Engine::load(path, options);
  std::filesystem::remove(path);
  const auto x = random_activations(kSeq * batch * hidden);
  const spruce::Shape shape = {int64_t{kSeq}, static_cast<int64_t>(batch),
                               static_cast<int64_t>(hidden)};
  for (auto _ : state) {
    auto out = engine.run({{"x", x.data(), shape}});
    benchmark::DoNotOptimize(out[0].data());
  }
  state.SetLabel(engine.layers()[0].kernel_for(static_cast<int64_t>(batch))
                     ->kernel);
}

void BM_OneDnn(benchmark::State& state, size_t hidden, size_t batch) {
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  const std::vector<float> w = lstm_weight(hidden, 0.0, 1);
  const std::vector<float> r = lstm_weight(hidden, 0.0, 2);
  const std::vector<float> b(4 * hidden, 0.01f);
  const spruce::DenseLstm lstm(engine, hidden, hidden,
                               spruce::LstmDirection::kForward,
                               {{w.data(), r.data(), b.data()}});
  const auto x = random_activations(kSeq * batch * hidden);
  std::vector<float> y(kSeq * batch * hidden), hy(batch * hidden),
      cy(batch * hidden);
  for (auto _ : state) {
    lstm.run(x.data(), false, kSeq, batch, nullptr, nullptr, y.data(), false,
             hy.data(), cy.data());
    benchmark::DoNotOptimize(y.data());
  }
}

int register_all() {
  for (size_t hidden : {512, 1024}) {
    for (size_t batch : {1, 16}) {
      const std::string shape =
          "lstm" + std::to_string(hidden) + "/" + std::to_string(batch);
      benchmark::RegisterBenchmark(("onednn/" + shape).c_str(), BM_OneDnn,
                                   hidden, batch)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("dense/" + shape).c_str(), BM_Spruce,
                                   hidden, batch, 0.0, true)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      for (int pct : {0, 70, 90, 95}) {
        benchmark::RegisterBenchmark(
            ("spruce/" + shape + "/" + std::to_string(pct)).c_str(), BM_Spruce,
            hidden, batch, pct / 100.0, false)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
  }
  return 0;
}

const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
