// The Engine's plan, made once at load: each node's op (kernels timed and
// weights packed there), each value's layout, the memory plan and what
// `spruce inspect` shows.
#include <algorithm>
#include <chrono>
#include <exception>
#include <random>

#include "engine_impl.h"
#include "kernel_choice.h"
#include "linear_op.h"
#include "op_params.h"
#include "ops/op.h"

namespace spruce {

void Engine::Impl::plan() {
  LinearPlanOptions plan_options;
  plan_options.force_dense = options.force_dense;
  plan_options.measure =
      options.kernel_selection == EngineOptions::KernelSelection::kMeasure;
  plan_options.min_sparsity = options.sparse_kernel_min_sparsity;
  plan_options.max_threads = threads;
  plan_options.allowed = kernel_mask(options.kernels);
  ops.resize(graph.nodes.size());
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const NodeDesc& node = graph.nodes[i];
    ops[i] =
        op_rule(node.op).create(OpInit{graph, node, plan_options, dnnl_engine});
    has_matmul = has_matmul || ops[i]->work_needs_run_shapes();
  }
  for (uint32_t i : graph.inputs) {
    inputs.push_back(
        {graph.values[i].name, graph.values[i].shape, graph.values[i].dtype});
  }
  for (uint32_t o : graph.outputs) {
    outputs.push_back(
        {graph.values[o].name, graph.values[o].shape, graph.values[o].dtype});
  }
  choose_layout_plan();
  for (const std::unique_ptr<Op>& op : ops) op->finish_planning();
  describe_layers();
  plan_per_image();
}

void Engine::Impl::choose_layout_plan() {
  // The distinct plans, in the order given (the first runs when nothing
  // can be timed).
  std::vector<double> scales;
  std::vector<std::vector<Layout>> plans;
  const std::vector<double> given_scales = options.layout_plan_scales.empty()
                                               ? std::vector<double>{1.0}
                                               : options.layout_plan_scales;
  for (const double scale : given_scales) {
    plan_layouts(scale);
    if (std::find(plans.begin(), plans.end(), layout) == plans.end()) {
      plans.push_back(layout);
      scales.push_back(scale);
    }
  }
  auto use = [&](size_t i) {
    plan_layouts(scales[i]);
    plan_memory();
    estimate_unit_work();
    run_pool.clear();  // their buffers were sized for another plan
  };
  // Timed on random float inputs of the declared shapes, dynamic
  // dimensions 1 (a convolutional model's batch; one image is what a batch
  // runs at a time): rounds of every plan for 300 ms, at least one (three
  // runs of each plan for a model slower than that).
  std::vector<std::vector<float>> data(graph.inputs.size());
  std::vector<Input> given;
  bool runnable = plans.size() > 1;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (size_t k = 0; k < graph.inputs.size() && runnable; ++k) {
    const ValueDesc& value = graph.values[graph.inputs[k]];
    Shape shape = value.shape;
    for (int64_t& d : shape) d = d > 0 ? d : 1;
    runnable = value.dtype == DataType::kFloat32;
    data[k].resize(element_count(shape));
    for (float& x : data[k]) x = uniform(rng);
    given.push_back({value.name, data[k].data(), shape});
  }
  layout_plans = LayoutPlanInfo();
  if (runnable) {
    try {
      std::vector<Tensor> results;
      const std::vector<double> seconds = best_times_in_turn(
          plans.size(), use, [&] { run_once(given, &results, nullptr); },
          std::chrono::milliseconds(300), 1, 10);
      layout_plans.conversion_scales = scales;
      layout_plans.seconds = seconds;
      layout_plans.chosen = static_cast<size_t>(
          std::min_element(seconds.begin(), seconds.end()) - seconds.begin());
    } catch (const std::exception&) {
      // A model whose unit shapes do not run (a size only valid at run
      // time): the plan as estimated. Its runs will say what is wrong.
      layout_plans = LayoutPlanInfo();
    }
  }
  use(layout_plans.chosen);
}

void Engine::Impl::plan_per_image() {
  from_inputs.assign(graph.values.size(), false);
  for (uint32_t v : graph.inputs) from_inputs[v] = true;
  bool has_conv = false, apart = options.split_batch;
  for (const NodeDesc& node : graph.nodes) {
    bool fed = false;
    for (uint32_t v : node.inputs)
      fed = fed || (v != kNoValue && from_inputs[v]);
    for (uint32_t v : node.outputs) {
      if (v != kNoValue) from_inputs[v] = fed;
    }
    has_conv = has_conv || node.op == OpKind::kConv;
    const BatchRule rule = op_rule(node.op).batch;
    if (rule == BatchRule::kMixes) apart = false;
    if (rule == BatchRule::kPerImageUnlessAxis0 && !node.inputs.empty() &&
        node.inputs[0] != kNoValue) {
      const auto rank =
          static_cast<int64_t>(graph.values[node.inputs[0]].shape.size());
      int64_t axis = node.attrs.get_int("axis", 1);
      if (axis < 0) axis += rank;
      if (axis == 0) apart = false;
    }
  }
  auto batched = [&](uint32_t v) {
    const Shape& s = graph.values[v].shape;
    return !s.empty() && s[0] < 0;
  };
  apart = apart &&
          std::all_of(graph.inputs.begin(), graph.inputs.end(), batched) &&
          std::all_of(graph.outputs.begin(), graph.outputs.end(), batched);
  // Image models only: their activations are what outgrow the caches; a
  // batch of token rows or sequences is better as one product.
  per_image = apart && has_conv && !graph.inputs.empty();
  whole_from = graph.nodes.size();
  crossing.clear();
  if (per_image) choose_whole_tail();
  // The ops that run over whole batches (every one unless split), told
  // the batch if the first input declares it.
  const Shape first =
      graph.inputs.empty() ? Shape{} : graph.values[graph.inputs[0]].shape;
  const int64_t images = first.empty() ? -1 : first[0];
  for (size_t i = per_image ? whole_from : 0; i < ops.size(); ++i) {
    ops[i]->prepare_batches(images);
  }
}

void Engine::Impl::choose_whole_tail() {
  // Image by image, a node reads its weights once per image; in the whole
  // batch, its activations stream through memory at N times one image's
  // size. Both grow with N, so per image what decides is a node's weight
  // bytes (as its kernel reads them) against one image's activation bytes
  // (its inputs and outputs computed from the inputs): the split that
  // runs the fewest bytes is the one kept. A CNN's last stages (resnet18's
  // 512-channel 3x3 convolutions: 9.4 MB of weights on 0.2 MB of
  // activations) then run as one batch, its first ones image by image.
  const size_t nodes = graph.nodes.size();
  // One image's bytes of a value; unknown where a size other than the
  // batch is dynamic (an image size given per run), and then every node
  // runs image by image.
  bool known = true;
  auto unit_bytes = [&](uint32_t v) {
    const Shape& s = graph.values[v].shape;
    known = known && !s.empty();
    double count = sizeof(float);
    for (size_t d = 0; d < s.size(); ++d) {
      known = known && (d == 0 || s[d] >= 0);
      count *= static_cast<double>(std::max<int64_t>(s[d], 1));
    }
    return count;
  };
  std::vector<double> weights(nodes, 0.0), activations(nodes, 0.0);
  for (size_t i = 0; i < nodes; ++i) {
    const LayerInfo& info = layers[i];
    const KernelRange* kernel = info.kernel_for(1);
    const bool dense =
        kernel != nullptr &&
        std::any_of(std::begin(kLinearKernels), std::end(kLinearKernels),
                    [&](LinearKernel k) {
                      return is_dense(k) &&
                             kernel->kernel == linear_kernel_name(k);
                    });
    weights[i] =
        static_cast<double>(dense ? info.dense_bytes : info.stored_bytes);
    for (const std::vector<uint32_t>* values :
         {&graph.nodes[i].inputs, &graph.nodes[i].outputs}) {
      for (uint32_t v : *values) {
        if (v != kNoValue && from_inputs[v]) activations[i] += unit_bytes(v);
      }
    }
  }
  if (!known) return;
  // The last node reading each value (nodes: a model output).
  std::vector<size_t> last_read(graph.values.size(), 0);
  std::vector<size_t> producer(graph.values.size(), nodes);
  for (size_t i = 0; i < nodes; ++i) {
    for (uint32_t v : graph.nodes[i].inputs) {
      if (v != kNoValue) last_read[v] = i;
    }
    for (uint32_t v : graph.nodes[i].outputs) {
      if (v != kNoValue) producer[v] = i;
    }
  }
  for (uint32_t v : graph.outputs) last_read[v] = nodes;
  // A split at c: nodes [0, c) per image, [c, nodes) on the batch. Each
  // value computed from the inputs that crosses it must hold each image
  // whole (row-major or channels-last), to be stitched image after image.
  // (Feature-major ones, between sparse Linears, cannot cross where it
  // pays: a Linear's rows alone weigh as much as its outputs.)
  auto crossing_at = [&](size_t c, std::vector<uint32_t>* out) {
    out->clear();
    for (uint32_t v = 0; v < graph.values.size(); ++v) {
      if (producer[v] >= c || last_read[v] < c) continue;
      if (from_inputs[v] && layout[v] == Layout::kFeatureMajor) return false;
      out->push_back(v);
    }
    return true;
  };
  double head = 0, tail = 0;
  for (size_t i = 0; i < nodes; ++i) tail += activations[i];
  double best = head + tail;  // split at 0: all one batch
  size_t best_at = 0;
  std::vector<uint32_t> values;
  for (size_t c = 1; c <= nodes; ++c) {
    head += weights[c - 1];
    tail -= activations[c - 1];
    // Ties go to running more image by image (the default).
    if (head + tail <= best && (c == nodes || crossing_at(c, &values))) {
      best = head + tail;
      best_at = c;
    }
  }
  if (best_at == 0) {
    per_image = false;  // the whole batch at once, as if not split
    return;
  }
  whole_from = best_at;
  if (whole_from < nodes) crossing_at(whole_from, &crossing);
}

namespace {

// A value goes feature-major only between ops that both run it so at wide
// batches: a Linear whose wide batches run CSR or BSR, or an LSTM whose wide
// batches run the steps loop. Everything else reads and writes row-major,
// the layout dense kernels want, or channels-last between oneDNN's
// convolutions.
class Planner final : public LayoutPlanner {
 public:
  Planner(const Graph& graph, const std::vector<std::unique_ptr<Op>>& ops,
          std::vector<Layout>* layout, double conversion_scale)
      : graph_(graph),
        ops_(ops),
        layout_(*layout),
        conversion_scale_(conversion_scale) {
    readers_.resize(graph.values.size());
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      for (uint32_t v : graph.nodes[i].inputs) {
        if (v != kNoValue) readers_[v].push_back(i);
      }
    }
  }
  Layout layout(uint32_t value) const override { return layout_[value]; }
  void set_layout(uint32_t value, Layout layout) override {
    layout_[value] = layout;
  }
  bool feeds_only_feature_major(uint32_t value) const override {
    if (std::find(graph_.outputs.begin(), graph_.outputs.end(), value) !=
            graph_.outputs.end() ||
        readers_[value].empty()) {
      return false;
    }
    return std::all_of(
        readers_[value].begin(), readers_[value].end(),
        [&](size_t i) { return ops_[i]->reads_feature_major(); });
  }
  std::optional<Layout> readers_want(uint32_t value) const override {
    return readers_want(value, 0);
  }
  double conversion_scale() const override { return conversion_scale_; }

 private:
  std::optional<Layout> readers_want(uint32_t value, int depth) const {
    // A few layout-following ops deep: chains of them are short (a
    // depthwise conv, an activation), and the planner stays linear.
    constexpr int kMaxDepth = 4;
    std::optional<Layout> want;
    if (std::find(graph_.outputs.begin(), graph_.outputs.end(), value) !=
        graph_.outputs.end()) {
      want = Layout::kRowMajor;
    }
    for (size_t i : readers_[value]) {
      std::optional<Layout> w = ops_[i]->wanted_input_layout();
      const NodeDesc& reader = graph_.nodes[i];
      if (!w && depth < kMaxDepth && ops_[i]->follows_input_layout() &&
          !reader.inputs.empty() && reader.inputs[0] == value &&
          !reader.outputs.empty() && reader.outputs[0] != kNoValue) {
        w = readers_want(reader.outputs[0], depth + 1);
      }
      if (!w || (want && *want != *w)) return std::nullopt;
      want = w;
    }
    return want;
  }

  const Graph& graph_;
  const std::vector<std::unique_ptr<Op>>& ops_;
  std::vector<Layout>& layout_;
  double conversion_scale_;
  std::vector<std::vector<size_t>> readers_;  // per value
};

}  // namespace

void Engine::Impl::plan_layouts(double conversion_scale) {
  Planner planner(graph, ops, &layout, conversion_scale);
  for (const std::unique_ptr<Op>& op : ops) op->start_planning();
  // Twice: an op whose choice depends on what its readers want (a
  // convolution between a producer and readers in different layouts)
  // learns it from what they settled on in the first pass.
  for (int pass = 0; pass < 2; ++pass) {
    layout.assign(graph.values.size(), Layout::kRowMajor);
    for (const std::unique_ptr<Op>& op : ops) op->plan_layouts(planner);
  }
}

// Greedy slot assignment in execution order with the declared shapes
// (dynamic dimensions taken as 1 for the sizes reported).
void Engine::Impl::plan_memory() {
  const size_t value_count = graph.values.size();
  const size_t node_count = graph.nodes.size();
  constexpr size_t kForever = ~size_t{0};
  std::vector<size_t> last_use(value_count, 0);
  for (size_t i = 0; i < node_count; ++i) {
    for (uint32_t v : graph.nodes[i].inputs) {
      if (v != kNoValue) last_use[v] = i;
    }
  }
  for (uint32_t o : graph.outputs) last_use[o] = kForever;
  auto bytes_of = [&](uint32_t v) {
    size_t count = 1;
    for (int64_t d : graph.values[v].shape)
      count *= d > 0 ? static_cast<size_t>(d) : 1;
    return count * sizeof(float);
  };
  memory = MemoryPlanInfo();
  slot_of.assign(value_count, kNoSlot);
  in_place_input.assign(node_count, kNotInPlace);
  std::vector<size_t> slot_bytes;
  std::vector<size_t> live;  // values alive in each slot
  std::vector<uint32_t> free_slots;
  for (size_t i = 0; i < node_count; ++i) {
    const NodeDesc& node = graph.nodes[i];
    const uint32_t in = node.inputs.empty() ? kNoValue : node.inputs[0];
    const OutputMemory memory_kind = op_rule(node.op).memory;
    // The inputs an in-place output may take the slot of: [first, end).
    size_t first = 0, end = 0;
    if (memory_kind == OutputMemory::kInPlace) {
      end = std::min<size_t>(1, node.inputs.size());
    } else if (memory_kind == OutputMemory::kInPlaceAny) {
      end = node.inputs.size();
    } else if (memory_kind == OutputMemory::kInPlaceResidual) {
      first = 1;
      end = node.inputs.size();
    }
    for (uint32_t o : node.outputs) {
      if (o == kNoValue) continue;
      if (memory_kind == OutputMemory::kWeight) continue;
      memory.unplanned_bytes += bytes_of(o);
      if (memory_kind == OutputMemory::kAliasInput) {
        slot_of[o] = slot_of[in];  // same bytes (or a model input's)
        if (slot_of[o] != kNoSlot) ++live[slot_of[o]];
        continue;
      }
      // Only the first output may take an input's slot.
      bool took_input = false;
      for (size_t k = first; k < end && o == node.outputs[0]; ++k) {
        const uint32_t v = node.inputs[k];
        if (v != kNoValue && slot_of[v] != kNoSlot && last_use[v] == i &&
            live[slot_of[v]] == 1 &&
            graph.values[v].shape == graph.values[o].shape &&
            layout[v] == layout[o]) {
          slot_of[o] = slot_of[v];
          ++live[slot_of[o]];
          in_place_input[i] = static_cast<uint32_t>(k);
          took_input = true;
          break;
        }
      }
      if (took_input) continue;
      // Best fit among free slots; else a new one.
      const size_t need = bytes_of(o);
      auto best = free_slots.end();
      for (auto it = free_slots.begin(); it != free_slots.end(); ++it) {
        const bool fits = slot_bytes[*it] >= need;
        if (best == free_slots.end() ||
            (fits && (slot_bytes[*best] < need ||
                      slot_bytes[*it] < slot_bytes[*best])) ||
            (!fits && slot_bytes[*best] < need &&
             slot_bytes[*it] > slot_bytes[*best])) {
          best = it;
        }
      }
      uint32_t slot;
      if (best != free_slots.end()) {
        slot = *best;
        free_slots.erase(best);
      } else {
        slot = static_cast<uint32_t>(slot_bytes.size());
        slot_bytes.push_back(0);
        live.push_back(0);
      }
      slot_bytes[slot] = std::max(slot_bytes[slot], need);
      slot_of[o] = slot;
      live[slot] = 1;
    }
    // Values whose last reader was this node leave their slots.
    for (uint32_t v : node.inputs) {
      if (v == kNoValue || last_use[v] != i || slot_of[v] == kNoSlot) continue;
      if (live[slot_of[v]] > 0 && --live[slot_of[v]] == 0) {
        free_slots.push_back(slot_of[v]);
      }
      last_use[v] = kForever - 1;  // released once, even if read twice
    }
    // An output nobody reads (an unused LSTM state) frees at once.
    for (uint32_t o : node.outputs) {
      if (o == kNoValue || last_use[o] != 0 || slot_of[o] == kNoSlot) continue;
      if (std::find(graph.outputs.begin(), graph.outputs.end(), o) !=
          graph.outputs.end()) {
        continue;
      }
      if (--live[slot_of[o]] == 0) free_slots.push_back(slot_of[o]);
    }
  }
  slot_count = slot_bytes.size();
  for (size_t b : slot_bytes) memory.peak_bytes += b;
}

void Engine::Impl::describe_layers() {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const NodeDesc& node = graph.nodes[i];
    LayerInfo info;
    info.name = node.name;
    info.op = op_name(node.op);
    info.activation = activation_name(activation_of(node.attrs));
    info.storage = "-";
    ops[i]->describe(&info);
    layers.push_back(std::move(info));
  }
}

void Engine::Impl::estimate_unit_work() {
  std::vector<Shape> unit(graph.values.size());
  for (size_t v = 0; v < unit.size(); ++v) {
    unit[v] = graph.values[v].shape;
    for (int64_t& d : unit[v]) d = d > 0 ? d : 1;
  }
  unit_rows.assign(graph.nodes.size(), 1.0);
  unit_macs.assign(graph.nodes.size(), 0.0);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const NodeDesc& node = graph.nodes[i];
    if (node.inputs.empty() || node.inputs[0] == kNoValue ||
        unit[node.inputs[0]].empty()) {
      continue;
    }
    ops[i]->work(unit, &unit_rows[i], &unit_macs[i]);
  }
  unit_input_elements = 0;
  for (uint32_t v : graph.inputs) {
    unit_input_elements += static_cast<double>(element_count(unit[v]));
  }
  if (unit_input_elements <= 0) unit_input_elements = 1;
}

}  // namespace spruce
