// A pruned recurrent layer (LSTM, GRU as PyTorch exports it) in spruce vs
// the fastest dense one, same shapes, same binary and run: input = hidden
// (512, 1024), sequence 50, batch 1 and 16, weights magnitude-pruned to
// 0/70/90/95%.
//
//  onednn/<cell><H>/<batch>             oneDNN's lstm_forward or
//                                       lbr_gru_forward on the dense weights
//                                       (X and Y row-major, as it wants them)
//  dense/<cell><H>/<batch>              the dense model with
//                                       EngineOptions::force_dense: the
//                                       faster of oneDNN's primitive and
//                                       spruce's step loop on dense kernels,
//                                       timed at load
//  spruce/<cell><H>/<batch>/<sparsity>  a one-layer .spruce model through
//                                       Engine::run, kernels chosen at load
//                                       as for any model (matrices stored CSR
//                                       from 40% zeros, as the converter does)
//
// Threads: OMP_NUM_THREADS (bench/run_recurrent.sh runs 1).
// bench/recurrent_ratios.py divides the faster dense time by each spruce
// case's.
#include <benchmark/benchmark.h>
#include <omp.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

#include "bench_util.h"
#include "dense_recurrent.h"
#include "spruce/converters/model_def.h"
#include "spruce/spruce.h"

namespace {

constexpr size_t kSeq = 50;

using spruce::bench::magnitude_pruned;
using spruce::bench::random_activations;

// A layer's weights per recurrent_params.h for input = hidden: an LSTM's
// W, R [4H × H], a GRU's (linear_before_reset, as PyTorch exports it) W
// [3H × H], Rzr [2H × H], Rh [H × H]; then the bias.
struct Layer {
  spruce::RecurrentParams params;
  std::vector<spruce::Shape> shapes;
  std::vector<std::vector<float>> values;
};

Layer make_layer(spruce::RecurrentCell cell, size_t hidden, double sparsity) {
  Layer layer;
  layer.params.cell = cell;
  layer.params.hidden_size = static_cast<uint32_t>(hidden);
  layer.params.merged_output = true;
  layer.params.linear_before_reset = true;
  const auto h = static_cast<int64_t>(hidden);
  const bool gru = cell == spruce::RecurrentCell::kGru;
  const std::vector<int64_t> rows = gru ? std::vector<int64_t>{3 * h, 2 * h, h}
                                        : std::vector<int64_t>{4 * h, 4 * h};
  // Scaled as PyTorch initializes (1/√H) so the gates are not all saturated.
  const float scale = 1.0f / std::sqrt(static_cast<float>(hidden));
  unsigned seed = 1;
  for (int64_t r : rows) {
    std::vector<float> w =
        magnitude_pruned(static_cast<size_t>(r), hidden, sparsity, seed++);
    for (float& v : w) v *= scale;
    layer.shapes.push_back({r, h});
    layer.values.push_back(std::move(w));
  }
  layer.shapes.push_back({4 * h});
  layer.values.emplace_back(4 * hidden, 0.01f);
  return layer;
}

const char* cell_label(spruce::RecurrentCell cell) {
  return cell == spruce::RecurrentCell::kLstm ? "lstm" : "gru";
}

// One forward layer, X [seq, ?, H] → Y [seq, ?, H], written as a .spruce
// file.
std::string write_model(spruce::RecurrentCell cell, size_t hidden,
                        double sparsity) {
  namespace cv = spruce::converters;
  const auto h = static_cast<int64_t>(hidden);
  Layer layer = make_layer(cell, hidden, sparsity);
  cv::ModelDef model;
  model.values = {{"x", {int64_t{kSeq}, -1, h}}, {"y", {int64_t{kSeq}, -1, h}}};
  cv::NodeDef node;
  node.name = cell_label(cell);
  node.op = cell == spruce::RecurrentCell::kLstm ? spruce::OpKind::kLstm
                                                 : spruce::OpKind::kGru;
  node.inputs = {0};
  node.outputs = {1};
  for (size_t k = 0; k < layer.shapes.size(); ++k) {
    cv::WeightDef w;
    w.name = "w" + std::to_string(k);
    w.shape = layer.shapes[k];
    if (w.shape.size() == 2 && sparsity >= 0.4) {
      w.format = cv::WeightFormat::kCsr;
      w.csr = spruce::CsrMatrix::from_dense(
          layer.values[k].data(), static_cast<size_t>(w.shape[0]), hidden);
    } else {
      w.dense = std::move(layer.values[k]);
    }
    node.weights.push_back(static_cast<uint32_t>(model.weights.size()));
    model.weights.push_back(std::move(w));
  }
  spruce::set_recurrent_params(&node.attrs, layer.params);
  model.nodes.push_back(node);
  model.inputs = {0};
  model.outputs = {1};
  const std::string path =
      (std::filesystem::temp_directory_path() /
       ("spruce_recurrent_bench_" + std::to_string(::getpid()) + "_" +
        cell_label(cell) + std::to_string(hidden) + "_" +
        std::to_string(sparsity) + ".spruce"))
          .string();
  cv::write_model(model, path);
  return path;
}

void BM_Spruce(benchmark::State& state, spruce::RecurrentCell cell,
               size_t hidden, size_t batch, double sparsity, bool force_dense) {
  const std::string path = write_model(cell, hidden, sparsity);
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
  state.SetLabel(
      engine.layers()[0].kernel_for(static_cast<int64_t>(batch))->kernel);
}

void BM_OneDnn(benchmark::State& state, spruce::RecurrentCell cell,
               size_t hidden, size_t batch) {
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  const Layer layer = make_layer(cell, hidden, 0.0);
  // oneDNN takes a GRU's R whole: Rzr over Rh.
  std::vector<float> r = layer.values[1];
  if (cell == spruce::RecurrentCell::kGru) {
    r.insert(r.end(), layer.values[2].begin(), layer.values[2].end());
  }
  const spruce::DenseRecurrent dense(
      engine, layer.params, hidden,
      {{layer.values[0].data(), r.data(), layer.values.back().data()}});
  const auto x = random_activations(kSeq * batch * hidden);
  std::vector<float> y(kSeq * batch * hidden), hy(batch * hidden),
      cy(batch * hidden);
  for (auto _ : state) {
    dense.run(x.data(), false, kSeq, batch, nullptr, nullptr, y.data(), false,
              hy.data(), cy.data());
    benchmark::DoNotOptimize(y.data());
  }
}

int register_all() {
  for (spruce::RecurrentCell cell :
       {spruce::RecurrentCell::kLstm, spruce::RecurrentCell::kGru}) {
    for (size_t hidden : {512, 1024}) {
      for (size_t batch : {1, 16}) {
        const std::string shape = cell_label(cell) + std::to_string(hidden) +
                                  "/" + std::to_string(batch);
        benchmark::RegisterBenchmark(("onednn/" + shape).c_str(), BM_OneDnn,
                                     cell, hidden, batch)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
        benchmark::RegisterBenchmark(("dense/" + shape).c_str(), BM_Spruce,
                                     cell, hidden, batch, 0.0, true)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
        for (int pct : {0, 70, 90, 95}) {
          benchmark::RegisterBenchmark(
              ("spruce/" + shape + "/" + std::to_string(pct)).c_str(),
              BM_Spruce, cell, hidden, batch, pct / 100.0, false)
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime();
        }
      }
    }
  }
  return 0;
}

const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
