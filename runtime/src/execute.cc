// A run: inputs bound and checked, the team decision, then each node's op
// on its shapes and layouts, and the outputs copied out row-major.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <set>
#include <type_traits>

#include "denormals.h"
#include "engine_impl.h"
#include "spruce/element_types.h"
#include "spruce/kernels/transpose.h"
#include "worker_pool.h"

namespace spruce {
namespace {

// A run whose oneDNN layers would do fewer multiply-adds than this stays on
// its calling thread (Engine::Impl::worth_a_team): its oneDNN layers with
// one thread, spruce's own kernels split over the worker pool
// (worker_pool.h), which needs no hand-off. A run with more oneDNN work goes
// to the team leader, whose OpenMP team both use. On 2 cores, through the
// leader, oneDNN work of 1.6 million multiply-adds was slower than alone
// (44 vs 65 us) and 3.4 million far faster (1.4 vs 0.77 ms).
constexpr double kMinTeamWork = 2e6;

// An integer or bool input, from Input::elements (or int64_data), held as
// float in `held`: exact for integers within ±2^24 (beyond is refused),
// bool as 0 or 1.
void hold_as_float(const Input& input, DataType dtype,
                   std::vector<float>* held) {
  const void* from = input.elements;
  if (dtype == DataType::kInt64 && input.int64_data != nullptr) {
    from = input.int64_data;
  }
  if (from == nullptr) {
    throw Error("input '" + input.name + "' is " + data_type_name(dtype) +
                ": pass its values in Input::" +
                (dtype == DataType::kInt64 ? "int64_data or " : "") +
                "elements");
  }
  const size_t count = element_count(input.shape);
  held->resize(count);
  with_element_type(dtype, [&](auto zero) {
    using T = decltype(zero);
    const auto* bytes = static_cast<const unsigned char*>(from);
    for (size_t k = 0; k < count; ++k) {
      T v;
      std::memcpy(&v, bytes + k * sizeof(T), sizeof(T));  // any alignment
      if (dtype == DataType::kBool && v > 1) {
        throw Error("input '" + input.name + "' has byte " + std::to_string(v) +
                    " at position " + std::to_string(k) + "; a bool is 0 or 1");
      }
      constexpr int64_t kLimit = int64_t{1} << 24;
      const bool big = std::is_signed_v<T>
                           ? (static_cast<int64_t>(v) > kLimit ||
                              static_cast<int64_t>(v) < -kLimit)
                           : static_cast<uint64_t>(v) > uint64_t{kLimit};
      if (big) {
        throw Error("input '" + input.name + "' has value " +
                    std::to_string(v) + " at position " + std::to_string(k) +
                    "; integer inputs must lie within ±2^24");
      }
      (*held)[k] = static_cast<float>(v);
    }
  });
}

}  // namespace

void Engine::Impl::bind_inputs(const std::vector<Input>& given,
                               Run* run) const {
  std::set<std::string> seen;
  for (const Input& input : given) {
    const auto it = std::find_if(
        graph.inputs.begin(), graph.inputs.end(),
        [&](uint32_t v) { return graph.values[v].name == input.name; });
    if (it == graph.inputs.end()) {
      std::string names;
      for (const TensorInfo& t : inputs)
        names += (names.empty() ? "'" : ", '") + t.name + "'";
      throw Error("unknown input '" + input.name +
                  "'; the model's inputs are " + names);
    }
    if (!seen.insert(input.name).second) {
      throw Error("input '" + input.name + "' given twice");
    }
    const Shape& declared = graph.values[*it].shape;
    bool matches = input.shape.size() == declared.size();
    for (size_t d = 0; matches && d < declared.size(); ++d) {
      matches =
          declared[d] < 0 ? input.shape[d] >= 1 : input.shape[d] == declared[d];
    }
    if (!matches) {
      throw Error("input '" + input.name + "' has shape " +
                  to_string(input.shape) + ", the model expects " +
                  to_string(declared) + " (? = any size >= 1)");
    }
    if (element_count(input.shape) > kMaxActivationElements) {
      throw Error("input '" + input.name + "' of shape " +
                  to_string(input.shape) + " is too large");
    }
    run->shapes[*it] = input.shape;
    const DataType dtype = graph.values[*it].dtype;
    if (dtype != DataType::kFloat32) {
      hold_as_float(input, dtype, &run->own[*it]);
      run->data[*it] = run->own[*it].data();
      continue;
    }
    const float* data = input.data != nullptr
                            ? input.data
                            : static_cast<const float*>(input.elements);
    if (data == nullptr) {
      throw Error(
          "input '" + input.name + "' has no data (null pointer)" +
          (input.int64_data != nullptr ? "; it is float32, not int64" : ""));
    }
    if (options.reject_non_finite_inputs) {
      const size_t count = element_count(input.shape);
      // Bit tests, not float compares: those would raise the caller's
      // denormal status flag on denormal inputs.
      for (size_t k = 0; k < count; ++k) {
        uint32_t bits;
        std::memcpy(&bits, data + k, sizeof bits);
        if ((bits & 0x7f800000u) == 0x7f800000u) {
          throw Error("input '" + input.name + "' has " +
                      ((bits & 0x007fffffu) != 0 ? "NaN" : "an infinity") +
                      " at position " + std::to_string(k));
        }
      }
    }
    run->data[*it] = data;
  }
  for (const TensorInfo& t : inputs) {
    if (seen.count(t.name) == 0) {
      throw Error("missing input '" + t.name + "' of shape " +
                  to_string(t.shape));
    }
  }
}

bool Engine::Impl::worth_a_team(Run* run) const {
  if (threads <= 1) return false;
  // A stream of runs at the same shapes asks once.
  bool same = run->team_inputs.size() == graph.inputs.size();
  for (size_t k = 0; same && k < graph.inputs.size(); ++k) {
    same = run->team_inputs[k] == run->shapes[graph.inputs[k]];
  }
  if (same) return run->team;
  double input_elements = 0;
  run->team_inputs.clear();
  for (uint32_t v : graph.inputs) {
    input_elements += static_cast<double>(element_count(run->shapes[v]));
    run->team_inputs.push_back(run->shapes[v]);
  }
  run->team =
      onednn_work(run, input_elements / unit_input_elements) >= kMinTeamWork;
  return run->team;
}

double Engine::Impl::onednn_work(Run* run_state, double scale) const {
  Run& run = *run_state;
  if (has_matmul) {
    for (size_t i = 0; i < graph.nodes.size(); ++i) infer_shapes(i, &run);
  }
  double work = 0;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const auto rows =
        static_cast<size_t>(std::max(1.0, std::round(unit_rows[i] * scale)));
    work +=
        ops[i]->onednn_multiply_adds(run.shapes, unit_macs[i] * scale, rows);
  }
  return work;
}

void Engine::Impl::run_nodes(Run* run, size_t begin, size_t end,
                             RunProfile* profile) const {
  const ScopedOmpThreads omp_threads(run->threads);
  // A small run kept on its caller splits spruce's own kernels over the
  // worker pool, with the Engine's threads.
  const ScopedPoolThreads pool_threads(
      run->threads == 1 && !run->alone ? threads : 1);
  const ScopedFlushDenormals flush_denormals;
  if (profile == nullptr) {
    for (size_t i = begin; i < end; ++i) run_node(i, run);
    return;
  }
  const size_t nodes = graph.nodes.size();
  profile->seconds.resize(nodes, 0.0);
  profile->flops.resize(nodes, 0.0);
  profile->kernels.resize(nodes, "-");
  for (size_t i = begin; i < end; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run_node(i, run);
    profile->seconds[i] +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    ops[i]->count_work(run->shapes, &profile->flops[i], &profile->kernels[i]);
  }
}

void Engine::Impl::collect_outputs(Run* run,
                                   std::vector<Tensor>* results) const {
  results->resize(graph.outputs.size());
  for (size_t k = 0; k < graph.outputs.size(); ++k) {
    const uint32_t o = graph.outputs[k];
    const float* data = in_layout(o, Layout::kRowMajor, run);
    Tensor& out = (*results)[k];
    out.reset(run->shapes[o]);
    std::copy(data, data + out.size(), out.data());
  }
}

class Engine::Impl::NodeRunContext final : public RunContext {
 public:
  NodeRunContext(const Engine::Impl& engine, size_t node_index,
                 Engine::Impl::Run* run)
      : engine_(engine),
        node_(engine.graph.nodes[node_index]),
        in_place_input_(engine.in_place_input[node_index]),
        run_(*run) {}
  bool has_input(size_t k) const override {
    return k < node_.inputs.size() && node_.inputs[k] != kNoValue;
  }
  const Shape& input_shape(size_t k) const override {
    return run_.shapes[node_.inputs[k]];
  }
  Layout input_layout(size_t k) const override {
    return engine_.layout[node_.inputs[k]];
  }
  const float* input(size_t k, Layout want) override {
    return engine_.in_layout(node_.inputs[k], want, &run_);
  }
  bool has_output(size_t k) const override {
    return k < node_.outputs.size() && node_.outputs[k] != kNoValue;
  }
  const Shape& output_shape(size_t k) const override {
    return run_.shapes[node_.outputs[k]];
  }
  Layout output_layout(size_t k) const override {
    return engine_.layout[node_.outputs[k]];
  }
  // An in-place output that broadcasting made larger than its input gets a
  // buffer of its own.
  float* output(size_t k) override {
    const uint32_t out = node_.outputs[k];
    const bool off_plan =
        k == 0 && in_place_input_ != Engine::Impl::kNotInPlace &&
        element_count(run_.shapes[out]) !=
            element_count(run_.shapes[node_.inputs[in_place_input_]]);
    return engine_.allocate(out, &run_, off_plan);
  }
  void set_output(size_t k, const float* data) override {
    run_.data[node_.outputs[k]] = data;
  }
  int threads() const override { return run_.threads; }

 private:
  const Engine::Impl& engine_;
  const NodeDesc& node_;
  const uint32_t in_place_input_;
  Engine::Impl::Run& run_;
};

void Engine::Impl::infer_shapes(size_t i, Run* run) const {
  const NodeDesc& node = graph.nodes[i];
  std::vector<Shape> input_shapes;
  input_shapes.reserve(node.inputs.size());
  for (uint32_t v : node.inputs) {
    input_shapes.push_back(v == kNoValue ? Shape{} : run->shapes[v]);
  }
  std::vector<Shape> output_shapes =
      op_rule(node.op).output_shapes(graph, node, input_shapes);
  for (size_t k = 0; k < node.outputs.size(); ++k) {
    if (node.outputs[k] != kNoValue) {
      run->shapes[node.outputs[k]] = std::move(output_shapes[k]);
    }
  }
}

void Engine::Impl::run_node(size_t i, Run* run) const {
  infer_shapes(i, run);
  NodeRunContext ctx(*this, i, run);
  ops[i]->run(ctx);
}

const float* Engine::Impl::in_layout(uint32_t value, Layout want,
                                     Run* run) const {
  const Layout have = layout[value];
  if (have == want) return run->data[value];
  const Shape& shape = run->shapes[value];
  size_t rows, cols, images = 1;  // each image is transposed [rows × cols]
  if (have == Layout::kChannelsLast || want == Layout::kChannelsLast) {
    if (shape.size() != 4 ||
        (have != Layout::kRowMajor && want != Layout::kRowMajor)) {
      throw Error("internal: no layout conversion for tensor '" +
                  graph.values[value].name + "'");
    }
    const auto channels = static_cast<size_t>(shape[1]);
    const auto pixels = static_cast<size_t>(shape[2] * shape[3]);
    images = static_cast<size_t>(shape[0]);
    // NCHW → NHWC transposes each [C × HW] image; back, each [HW × C].
    rows = want == Layout::kChannelsLast ? channels : pixels;
    cols = want == Layout::kChannelsLast ? pixels : channels;
  } else {
    const size_t features =
        shape.empty() ? 1 : static_cast<size_t>(shape.back());
    const size_t n = element_count(shape) / std::max<size_t>(features, 1);
    // Row-major [n × features] → feature-major; back, [features × n].
    rows = want == Layout::kFeatureMajor ? n : features;
    cols = want == Layout::kFeatureMajor ? features : n;
  }
  if (rows == 1 || cols == 1) return run->data[value];  // the same bytes
  std::vector<float>& out = run->converted[value];
  if (run->converted_to[value] == want) return out.data();
  if (run->converted_to[value] != have) {
    throw Error("internal: tensor '" + graph.values[value].name +
                "' is wanted in two other layouts");
  }
  run->converted_to[value] = want;
  out.resize(images * rows * cols);
  const float* x = run->data[value];
  for (size_t i = 0; i < images; ++i) {
    kernels::transpose(x + i * rows * cols, rows, cols, cols,
                       out.data() + i * rows * cols, rows);
  }
  return out.data();
}

float* Engine::Impl::allocate(uint32_t value, Run* run, bool off_plan) const {
  const size_t count = element_count(run->shapes[value]);
  if (count > kMaxActivationElements) {
    throw Error("tensor '" + graph.values[value].name + "' would have shape " +
                to_string(run->shapes[value]) + ", too large to allocate");
  }
  const uint32_t slot = slot_of[value];
  std::vector<float>& buffer =
      slot == kNoSlot || off_plan ? run->own[value] : run->slots[slot];
  // The slot's earlier tenants are dead: growing it moves nothing live.
  if (buffer.size() < count) buffer.resize(count);
  run->data[value] = buffer.data();
  return buffer.data();
}

}  // namespace spruce
