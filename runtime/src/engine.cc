// Engine: load (map, check, plan) once; run many times from many threads.
// The plan is in plan.cc, a run in execute.cc (engine_impl.h).
#include "spruce/engine.h"

#include <omp.h>

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
