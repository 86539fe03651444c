// Engine: load (map, check, plan) once; run many times from many threads.
// The plan is in plan.cc, a run in execute.cc (engine_impl.h).
#include "spruce/engine.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <sstream>
#include <string>
#include <type_traits>

#include "engine_impl.h"
#include "model_reader.h"
#include "ops/op.h"
#include "spruce/element_types.h"
#include "team_leader.h"
#include "worker_pool.h"

namespace spruce {

Engine Engine::load(const std::string& path, const EngineOptions& options) {
  for (const double scale : options.layout_plan_scales) {
    if (!(scale > 0) || !std::isfinite(scale)) {
      std::ostringstream text;
      text << "EngineOptions::layout_plan_scales: " << scale
           << " is not a positive finite scale";
      throw Error(text.str());
    }
  }
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
const LayoutPlanInfo& Engine::layout_plan() const {
  return impl_->layout_plans;
}
bool Engine::runs_images_apart() const { return impl_->per_image; }
size_t Engine::whole_batch_from() const {
  return impl_->per_image ? impl_->whole_from : impl_->graph.nodes.size();
}

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
  const size_t images = m.images_apart(inputs);
  if (images > 1) {
    m.run_per_image(inputs, images, outputs, profile);
  } else {
    m.run_once(inputs, outputs, profile);
  }
}

size_t Engine::Impl::images_apart(const std::vector<Input>& given) const {
  if (!per_image || given.empty() || given[0].shape.empty()) return 0;
  const int64_t n = given[0].shape[0];
  if (n <= 1 || given.size() != graph.inputs.size()) return 0;
  // Every value's shape at the given batch and at one image (two runs'
  // shapes alone): those computed from the inputs must be [n, rest...] and
  // [1, rest...]. Inputs the model lacks or of the wrong rank are left to
  // the whole run to report.
  Run at_n, at_1;
  at_n.shapes.assign(graph.values.size(), Shape());
  at_1.shapes.assign(graph.values.size(), Shape());
  for (uint32_t v : graph.inputs) {
    const auto it = std::find_if(
        given.begin(), given.end(),
        [&](const Input& i) { return i.name == graph.values[v].name; });
    if (it == given.end() || it->shape.empty() || it->shape[0] != n) return 0;
    at_n.shapes[v] = at_1.shapes[v] = it->shape;
    at_1.shapes[v][0] = 1;
  }
  try {
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      infer_shapes(i, &at_n);
      infer_shapes(i, &at_1);
      for (uint32_t v : graph.nodes[i].outputs) {
        if (v == kNoValue || !from_inputs[v]) continue;
        const Shape& a = at_n.shapes[v];
        const Shape& b = at_1.shapes[v];
        if (a.empty() || a.size() != b.size() || a[0] != n || b[0] != 1 ||
            !std::equal(a.begin() + 1, a.end(), b.begin() + 1) ||
            std::any_of(a.begin(), a.end(), [](int64_t d) { return d < 0; })) {
          return 0;
        }
      }
    }
  } catch (const Error&) {
    return 0;  // the whole run reports it
  }
  return static_cast<size_t>(n);
}

namespace {

// Outputs of consecutive parts of a batch, each [n_i, ...], as one batch.
void concatenate_batches(const std::vector<std::vector<Tensor>>& parts,
                         std::vector<Tensor>* results) {
  results->resize(parts[0].size());
  for (size_t k = 0; k < parts[0].size(); ++k) {
    Shape s = parts[0][k].shape();
    s[0] = 0;
    for (const std::vector<Tensor>& part : parts) s[0] += part[k].shape()[0];
    Tensor& out = (*results)[k];
    out.reset(s);
    float* to = out.data();
    for (const std::vector<Tensor>& part : parts) {
      to = std::copy(part[k].data(), part[k].data() + part[k].size(), to);
    }
  }
}

}  // namespace

void Engine::Impl::run_per_image(const std::vector<Input>& given, size_t images,
                                 std::vector<Tensor>* results,
                                 RunProfile* profile) const {
  {
    // The whole batch checked first, so an error names its position in
    // the batch, not in one image.
    std::unique_ptr<Run> whole = acquire_run();
    bind_inputs(given, whole.get());
    release_run(std::move(whole));
  }
  std::vector<size_t> bytes(given.size());  // of one image of each input
  for (size_t k = 0; k < given.size(); ++k) {
    const auto it = std::find_if(
        graph.inputs.begin(), graph.inputs.end(),
        [&](uint32_t v) { return graph.values[v].name == given[k].name; });
    const size_t elements = element_count(given[k].shape) / images;
    bytes[k] = elements *
               (given[k].data != nullptr
                    ? sizeof(float)
                    : with_element_type(graph.values[*it].dtype, [](auto zero) {
                        return sizeof(zero);
                      }));
  }
  // Images [first, first + count) of every input.
  auto slice = [&](size_t first, size_t count) {
    std::vector<Input> part = given;
    for (size_t k = 0; k < given.size(); ++k) {
      part[k].shape[0] = static_cast<int64_t>(count);
      auto at = [&](const auto* p) {
        using T = std::remove_cv_t<std::remove_pointer_t<decltype(p)>>;
        return p == nullptr
                   ? nullptr
                   : reinterpret_cast<const T*>(
                         reinterpret_cast<const char*>(p) + first * bytes[k]);
      };
      part[k].data = at(given[k].data);
      part[k].int64_data = at(given[k].int64_data);
      part[k].elements = at(static_cast<const char*>(given[k].elements));
    }
    return part;
  };
  // Images [first, last): the head image by image, then the tail (if any)
  // once over them.
  auto run_images = [&](size_t first, size_t last, std::vector<Tensor>* out,
                        RunProfile* part_profile, bool alone) {
    if (whole_from == graph.nodes.size()) {
      std::vector<std::vector<Tensor>> parts(last - first);
      for (size_t i = first; i < last; ++i) {
        run_once(slice(i, 1), &parts[i - first], part_profile, alone);
      }
      concatenate_batches(parts, out);
      return;
    }
    // The crossing values' batch shapes, and a batch tensor for each.
    std::unique_ptr<Run> batch = acquire_run();
    bind_inputs(slice(first, last - first), batch.get());
    for (size_t i = 0; i < whole_from; ++i) infer_shapes(i, batch.get());
    for (uint32_t v : crossing) {
      std::vector<float>& buffer = batch->own[v];
      buffer.resize(element_count(batch->shapes[v]));
      batch->data[v] = buffer.data();
    }
    for (size_t i = first; i < last; ++i) {
      std::unique_ptr<Run> run = acquire_run();
      bind_inputs(slice(i, 1), run.get());
      set_threads(run.get(), alone);
      run_nodes_on_team(run.get(), 0, whole_from, part_profile);
      // Each image's part of each crossing value, whole in either layout
      // it may have (plan.cc); one not computed from the inputs is the
      // same for every image.
      for (uint32_t v : crossing) {
        const float* src = run->data[v];
        const size_t each = element_count(run->shapes[v]);
        if (from_inputs[v]) {
          std::copy(src, src + each, batch->own[v].data() + (i - first) * each);
        } else if (i == first) {
          std::copy(src, src + each, batch->own[v].data());
        }
      }
      release_run(std::move(run));
    }
    set_threads(batch.get(), alone);
    run_nodes_on_team(batch.get(), whole_from, graph.nodes.size(),
                      part_profile);
    collect_outputs(batch.get(), out);
    release_run(std::move(batch));
  };
  // With threads, images go to them whole, each run on one thread (and a
  // tail over each thread's share of the batch): a run of one image is
  // too small for its layers to split well (mobilenet_v2 90% at batch 16
  // ran no faster on 2 threads than on 1; a whole tail split over 2
  // threads ran efficientnet_b0 90% at 0.74x of its images apart), and
  // images share nothing. A profile is kept in order, on the calling
  // thread.
  const size_t workers =
      profile != nullptr ? 1 : std::min(images, static_cast<size_t>(threads));
  const size_t runs_before = profile != nullptr ? profile->runs : 0;
  if (workers > 1) {
    std::vector<std::vector<Tensor>> parts(workers);
    std::vector<std::exception_ptr> errors(workers);
    const std::vector<size_t> bounds = split_evenly(images, workers);
    WorkerPool::get().run(workers, static_cast<int>(workers), [&](size_t w) {
      try {
        run_images(bounds[w], bounds[w + 1], &parts[w], nullptr,
                   /*alone=*/true);
      } catch (...) {
        errors[w] = std::current_exception();
      }
    });
    for (const std::exception_ptr& e : errors) {
      if (e) std::rethrow_exception(e);
    }
    concatenate_batches(parts, results);
  } else {
    run_images(0, images, results, profile, false);
  }
  if (profile != nullptr) profile->runs = runs_before + 1;  // one run
}

void Engine::Impl::run_once(const std::vector<Input>& given,
                            std::vector<Tensor>* results, RunProfile* profile,
                            bool alone) const {
  std::unique_ptr<Impl::Run> state = acquire_run();
  bind_inputs(given, state.get());  // checked here, outside the turn
  set_threads(state.get(), alone);
  run_nodes_on_team(state.get(), 0, graph.nodes.size(), profile);
  if (profile != nullptr) ++profile->runs;
  collect_outputs(state.get(), results);
  // Only a run that finished returns its state: one that threw may have
  // left it half-written, and a fresh one costs just the allocation.
  release_run(std::move(state));
}

void Engine::Impl::set_threads(Run* run, bool alone) const {
  // Without the leader, as before it: every run with the Engine's threads.
  run->threads =
      !alone && (!options.use_team_leader || worth_a_team(run)) ? threads : 1;
  run->alone = alone;
}

void Engine::Impl::run_nodes_on_team(Run* run, size_t begin, size_t end,
                                     RunProfile* profile) const {
  // Multi-threaded runs take turns on the team leader (team_leader.h).
  if (options.use_team_leader && run->threads > 1 && !TeamLeader::on_leader()) {
    TeamLeader::get().run([&] { run_nodes(run, begin, end, profile); });
  } else {
    run_nodes(run, begin, end, profile);
  }
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
