// Engine: load (map, check, plan) once; run many times from many threads.
// The plan is in plan.cc, a run in execute.cc (engine_impl.h).
#include "spruce/engine.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "engine_impl.h"
#include "model_reader.h"
#include "team_leader.h"

namespace spruce {

Engine Engine::load(const std::string& path, const EngineOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->options = options;
  impl->threads =
      options.num_threads > 0 ? options.num_threads : omp_get_max_threads();
  impl->file = MappedFile::open(path);
  impl->graph = read_model(impl->file.data(), impl->file.size(), path,
                           options.verify_checksums);
  // Kernel timing at plan time runs with the threads runs will use, on the
  // thread that leads them.
  Impl& m = *impl;
  auto plan = [&m] {
    const ScopedOmpThreads omp_threads(m.threads);
    m.plan();
  };
  if (m.threads > 1 && options.use_team_leader && !TeamLeader::on_leader()) {
    TeamLeader::get().run(plan);
  } else {
    plan();
  }
  return Engine(std::move(impl));
}

PruningAdvice pruning_advice(const std::vector<LayerInfo>& layers) {
  PruningAdvice advice;
  size_t all_bytes = 0, dense_run_bytes = 0;
  for (const LayerInfo& l : layers) {
    if (l.weight_shape.empty()) continue;
    all_bytes += l.dense_bytes;
    const KernelRange* k = l.kernel_for(1);
    const bool sparse =
        k != nullptr && k->kernel.find("sparse") != std::string::npos;
    if (l.sparsity < 0.25 || sparse) continue;
    if (advice.layers.empty()) {
      advice.min_sparsity = advice.max_sparsity = l.sparsity;
    }
    advice.min_sparsity = std::min(advice.min_sparsity, l.sparsity);
    advice.max_sparsity = std::max(advice.max_sparsity, l.sparsity);
    advice.layers.push_back(l.name);
    dense_run_bytes += l.dense_bytes;
  }
  if (all_bytes > 0) {
    advice.weight_share =
        static_cast<double>(dense_run_bytes) / static_cast<double>(all_bytes);
  }
  return advice;
}

std::string PruningAdvice::message() const {
  if (layers.empty()) return "";
  auto pct = [](double f) { return std::to_string(std::lround(100 * f)); };
  std::string text =
      std::to_string(layers.size()) + " pruned layer" +
      (layers.size() == 1 ? " runs" : "s run") + " dense (" +
      pct(weight_share) + "% of the weights): at " + pct(min_sparsity) +
      (max_sparsity - min_sparsity >= 0.01 ? "-" + pct(max_sparsity)
                                           : std::string()) +
      "% zeros the sparse kernels do not beat dense on this "
      "CPU, so those zeros save no time. Pruned to 80-90% each "
      "(per layer rather than globally) they would run sparse: ";
  for (size_t i = 0; i < layers.size() && i < 3; ++i) {
    text += (i > 0 ? ", " : "") + layers[i];
  }
  if (layers.size() > 3) {
    text += " and " + std::to_string(layers.size() - 3) + " more";
  }
  return text + ".";
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;
Engine::~Engine() = default;

const std::vector<TensorInfo>& Engine::inputs() const { return impl_->inputs; }
const std::vector<TensorInfo>& Engine::outputs() const {
  return impl_->outputs;
}
const std::vector<LayerInfo>& Engine::layers() const { return impl_->layers; }
const std::map<std::string, std::string>& Engine::metadata() const {
  return impl_->graph.metadata;
}
const std::string& Engine::path() const { return impl_->path; }
const MemoryPlanInfo& Engine::memory_plan() const { return impl_->memory; }

std::vector<Tensor> Engine::run(const std::vector<Input>& inputs) const {
  std::vector<Tensor> outputs;
  run(inputs, &outputs, nullptr);
  return outputs;
}

std::vector<Tensor> Engine::run(const std::vector<Input>& inputs,
                                RunProfile* profile) const {
  std::vector<Tensor> outputs;
  run(inputs, &outputs, profile);
  return outputs;
}

void Engine::run(const std::vector<Input>& inputs, std::vector<Tensor>* outputs,
                 RunProfile* profile) const {
  const Impl& m = *impl_;
  std::unique_ptr<Impl::Run> state = m.acquire_run();
  m.bind_inputs(inputs, state.get());  // checked here, outside the turn
  const bool leader = m.options.use_team_leader;
  // Without the leader, as before it: every run with the Engine's threads.
  state->threads = !leader || m.worth_a_team(state.get()) ? m.threads : 1;
  // Multi-threaded runs take turns on the team leader (team_leader.h).
  if (leader && state->threads > 1 && !TeamLeader::on_leader()) {
    TeamLeader::get().run([&] { m.compute(state.get(), outputs, profile); });
  } else {
    m.compute(state.get(), outputs, profile);
  }
  // Only a run that finished returns its state: one that threw may have
  // left it half-written, and a fresh one costs just the allocation.
  m.release_run(std::move(state));
}

std::unique_ptr<Engine::Impl::Run> Engine::Impl::acquire_run() const {
  std::unique_ptr<Run> run;
  {
    std::lock_guard<std::mutex> lock(run_pool_mutex);
    if (!run_pool.empty()) {
      run = std::move(run_pool.back());
      run_pool.pop_back();
    }
  }
  const size_t value_count = graph.values.size();
  if (run == nullptr) {
    run = std::make_unique<Run>();
    run->slots.resize(slot_count);
    run->own.resize(value_count);
    run->converted.resize(value_count);
  }
  run->shapes.assign(value_count, Shape());
  run->data.assign(value_count, nullptr);
  run->converted_to.assign(layout.begin(), layout.end());
  return run;
}

void Engine::Impl::release_run(std::unique_ptr<Run> run) const {
  std::lock_guard<std::mutex> lock(run_pool_mutex);
  run_pool.push_back(std::move(run));
}

}  // namespace spruce
