// Engine: load (map, check, plan) once; run many times from many threads.
//
// Activation layout: Linear kernels want feature-major activations
// ([features × n], n = batch × tokens contiguous). The plan marks each tensor
// feature-major or row-major (ONNX's layout) so that a chain of Linear/Relu
// layers never transposes; a transpose happens only where a row-major consumer
// (Flatten that regroups features, a model output) meets a feature-major
// producer, and never when n == 1, where both layouts are the same bytes.
#include "spruce/engine.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <set>

#include "conv_op.h"
#include "denormals.h"
#include "graph.h"
#include "linear_op.h"
#include "lstm_op.h"
#include "mapped_file.h"
#include "model_reader.h"
#include "parallel.h"
#include "simple_ops.h"
#include "spruce/error.h"
#include "spruce/kernels/rows.h"
#include "spruce/kernels/transpose.h"
#include "team_leader.h"
#include "tensor_ops.h"

namespace spruce {
namespace {

// dst[c * rows + r] = src[r * cols + c], in tiles that stay in cache.
// Sets OpenMP's thread count for the calling thread (what oneDNN reads) and
// restores it when the run ends.
class ScopedOmpThreads {
 public:
  explicit ScopedOmpThreads(int threads) : previous_(omp_get_max_threads()) {
    if (kSerialInside) {
      omp_set_num_threads(1);  // oneDNN too (see parallel.h)
    } else if (threads > 0) {
      omp_set_num_threads(threads);
    }
  }
  ~ScopedOmpThreads() { omp_set_num_threads(previous_); }
  ScopedOmpThreads(const ScopedOmpThreads&) = delete;
  ScopedOmpThreads& operator=(const ScopedOmpThreads&) = delete;

 private:
  int previous_;
};

// How a value's bytes are laid out, chosen per value at plan time so that
// each kernel reads what it wants with as few transposes as possible.
// Row-major is ONNX's own (NCHW for images); feature-major keeps each
// feature's values over the batch and tokens contiguous (sparse Linears and
// LSTMs between each other); channels-last is NHWC (between oneDNN's
// convolutions and pools). in_layout() converts where neighbours differ.
enum class Layout : uint8_t { kRowMajor, kFeatureMajor, kChannelsLast };

// A run whose oneDNN layers would do fewer multiply-adds than this stays on
// its calling thread (Engine::Impl::worth_a_team): its oneDNN layers with
// one thread, spruce's own kernels split over the worker pool
// (worker_pool.h), which needs no hand-off. A run with more oneDNN work goes
// to the team leader, whose OpenMP team both use. On 2 cores, through the
// leader, oneDNN work of 1.6 million multiply-adds was slower than alone
// (44 vs 65 us) and 3.4 million far faster (1.4 vs 0.77 ms).
constexpr double kMinTeamWork = 2e6;

}  // namespace

struct Engine::Impl {
  std::string path;
  EngineOptions options;
  int threads = 1;
  MappedFile file;
  Graph graph;
  dnnl::engine dnnl_engine{dnnl::engine::kind::cpu, 0};
  std::vector<std::unique_ptr<LinearOp>>
      linear;                                 // per node; null if not Linear
  std::vector<std::unique_ptr<LstmOp>> lstm;  // per node; null if not LSTM
  std::vector<std::unique_ptr<ConvOp>> conv;  // per node; null if not Conv
  std::vector<std::unique_ptr<PoolOp>> pool;  // per node; null if not a pool
  std::vector<std::unique_ptr<MatMulOp>>
      matmul;                  // per node; null if not MatMul
  std::vector<Layout> layout;  // per value, chosen at plan time
  // Memory plan: each computed value lives in a slot, a buffer shared over
  // time by values whose lifetimes do not overlap (kNoSlot: a model input, or
  // an alias of its input's bytes through Flatten). Elementwise ops write into
  // their input's slot when that input dies there (`in_place`).
  static constexpr uint32_t kNoSlot = 0xFFFFFFFF;
  std::vector<uint32_t> slot_of;  // per value
  std::vector<bool> in_place;     // per node
  size_t slot_count = 0;
  MemoryPlanInfo memory;
  std::vector<TensorInfo> inputs;
  std::vector<TensorInfo> outputs;
  std::vector<LayerInfo> layers;

  void plan();
  void plan_memory();
  void describe_layers();
  void describe_lstm(size_t node_index, LayerInfo* info) const;
  [[noreturn]] void fail(const std::string& message) const {
    throw Error(path + ": " + message);
  }

  // Per-run state: each run() has its own, so runs never share buffers.
  struct Run {
    std::vector<Shape> shapes;
    std::vector<const float*> data;
    std::vector<std::vector<float>> slots;      // the memory plan's buffers
    std::vector<std::vector<float>> own;        // per value, off the plan
    std::vector<std::vector<float>> converted;  // values in another layout
    std::vector<Layout> converted_to;  // per value; its own layout if none
    int threads = 1;                   // the Engine's, or 1 for a small run
    // worth_a_team's answer for the input shapes it was last asked about.
    std::vector<Shape> team_inputs;
    bool team = false;
  };
  // Run states are reused: their buffers keep their pages, so a steady
  // stream of runs neither allocates nor page-faults. Concurrent runs each
  // take their own; the pool holds as many as ever ran at once.
  std::unique_ptr<Run> acquire_run() const;
  void release_run(std::unique_ptr<Run> run) const;
  mutable std::mutex run_pool_mutex;
  mutable std::vector<std::unique_ptr<Run>> run_pool;
  void bind_inputs(const std::vector<Input>& given, Run* run) const;
  // A run's size relative to the declared shapes with each dynamic
  // dimension 1 ("unit" shapes): its input elements over theirs. Each op's
  // work scales with it, and each Linear's rows too (from unit_rows).
  double unit_input_elements = 1;
  std::vector<double> unit_rows;  // per node: a Linear's or LSTM's batch
  std::vector<double> unit_macs;  // per node: multiply-adds at unit shapes
  void estimate_unit_work();
  // Multiply-adds oneDNN would do in `run` (scale: its size relative to the
  // unit shapes), with the kernels chosen for its batches. A MatMul of two
  // activations does not scale with the inputs (attention grows with the
  // square of the sequence): its work comes from the run's shapes, which
  // this infers first when the graph has one.
  double onednn_work(Run* run, double scale) const;
  bool has_matmul = false;
  // Whether a bound run has enough oneDNN work for a team: a run without
  // stays on its calling thread, alone for oneDNN and with the worker pool
  // for spruce's kernels, rather than pay the hand-off to the team leader
  // and a team's wake-up, or queue there for nothing while many threads
  // serve a small model.
  bool worth_a_team(Run* run) const;
  // Runs the nodes of a bound run and copies out its outputs.
  void compute(Run* run, std::vector<Tensor>* results,
               RunProfile* profile) const;
  // `value`'s data in the wanted layout, transposing into run->converted.
  const float* in_layout(uint32_t value, Layout want, Run* run) const;
  // `value`'s buffer: its slot, or its own when `off_plan` (an in-place op
  // whose output turned out larger than its input, by broadcasting).
  float* allocate(uint32_t value, Run* run, bool off_plan = false) const;
  void run_node(size_t node_index, Run* run) const;
  void run_lstm(size_t node_index, Run* run) const;
  void run_tensor_op(size_t node_index, Run* run) const;
  void run_concat(const NodeDesc& node, Run* run) const;
  // Adds node i's floating-point operations in `run` to *flops and names
  // the kernel that did them.
  void count_work(size_t i, const Run& run, double* flops,
                  std::string* kernel) const;
};

void Engine::Impl::plan() {
  const size_t value_count = graph.values.size();
  layout.assign(value_count, Layout::kRowMajor);
  linear.resize(graph.nodes.size());
  lstm.resize(graph.nodes.size());
  conv.resize(graph.nodes.size());
  pool.resize(graph.nodes.size());
  matmul.resize(graph.nodes.size());
  LinearPlanOptions plan;
  plan.force_dense = options.force_dense;
  plan.measure =
      options.kernel_selection == EngineOptions::KernelSelection::kMeasure;
  plan.min_sparsity = options.sparse_kernel_min_sparsity;
  plan.max_threads = threads;
  plan.allowed = kernel_mask(options.kernels);
  // First the ops whose kernels are timed and whose layouts depend on their
  // neighbours' choices: Linears timed reading and writing row-major
  // activations (as a dense model lays them out), and LSTMs.
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const NodeDesc& node = graph.nodes[i];
    if (node.op == OpKind::kLinear) {
      const WeightDesc& w = graph.weights[node.weights[0]];
      const WeightDesc* b =
          node.weights.size() > 1 ? &graph.weights[node.weights[1]] : nullptr;
      linear[i] = std::make_unique<LinearOp>(w, b, node.activation,
                                             /*x_feature_major=*/false,
                                             /*y_feature_major=*/false, plan,
                                             dnnl_engine);
    } else if (node.op == OpKind::kLstm) {
      lstm[i] = std::make_unique<LstmOp>(graph, node, plan, dnnl_engine);
    }
  }
  // A value goes feature-major only between ops that both run it so at
  // wide batches: a Linear whose wide batches run CSR or BSR, or an LSTM
  // whose wide batches run the steps loop. Everything else reads and
  // writes row-major, the layout dense kernels want.
  std::vector<std::vector<size_t>> readers(graph.values.size());
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (uint32_t v : graph.nodes[i].inputs) {
      if (v != kNoValue) readers[v].push_back(i);
    }
  }
  auto wants_feature_major = [&](size_t i) {
    if (linear[i] != nullptr) return linear[i]->prefers_feature_major();
    if (lstm[i] != nullptr) {
      return lstm[i]->input_feature_major(LstmOp::kBatchProbes[2]);
    }
    return false;
  };
  auto feeds_only_feature_major = [&](uint32_t v) {
    if (std::find(graph.outputs.begin(), graph.outputs.end(), v) !=
            graph.outputs.end() ||
        readers[v].empty()) {
      return false;
    }
    return std::all_of(readers[v].begin(), readers[v].end(),
                       wants_feature_major);
  };
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const NodeDesc& node = graph.nodes[i];
    const uint32_t in = node.inputs.empty() ? kNoValue : node.inputs[0];
    const uint32_t out = node.outputs[0];
    switch (node.op) {
      case OpKind::kLinear: {
        layout[out] = linear[i]->prefers_feature_major() &&
                              feeds_only_feature_major(out)
                          ? Layout::kFeatureMajor
                          : Layout::kRowMajor;
        // The input as its producer wrote it (channels-last images are
        // read row-major): Linears read either layout.
        linear[i]->set_layouts(layout[in] == Layout::kFeatureMajor,
                               layout[out] == Layout::kFeatureMajor);
        break;
      }
      case OpKind::kMatMul:
        matmul[i] = std::make_unique<MatMulOp>(dnnl_engine);
        has_matmul = true;
        break;
      case OpKind::kLstm:
        // A merged Y has its features last: kept feature-major for readers
        // that run it so, row-major as a model output (written so directly,
        // not transposed after). States and a 4-D Y stay row-major.
        if (out != kNoValue && node.lstm.merged_output &&
            lstm[i]->input_feature_major(LstmOp::kBatchProbes[2]) &&
            feeds_only_feature_major(out)) {
          layout[out] = Layout::kFeatureMajor;
        }
        break;
      case OpKind::kConv: {
        const WeightDesc& w = graph.weights[node.weights[0]];
        const WeightDesc* b =
            node.weights.size() > 1 ? &graph.weights[node.weights[1]] : nullptr;
        conv[i] =
            std::make_unique<ConvOp>(w, b, node.spatial, node.activation,
                                     graph.values[in].shape, plan, dnnl_engine);
        // oneDNN's convolutions run on NHWC without reorders; chains of
        // dense convs, pools and residual Adds stay channels-last.
        if (conv[i]->kernel() == LinearKernel::kOneDnn) {
          layout[out] = Layout::kChannelsLast;
        }
        break;
      }
      case OpKind::kMaxPool:
      case OpKind::kAveragePool:
        pool[i] = std::make_unique<PoolOp>(node.op, node.spatial, dnnl_engine);
        if (layout[in] == Layout::kChannelsLast) {
          layout[out] = Layout::kChannelsLast;
        }
        break;
      case OpKind::kAdd: {
        // Channels-last when either side is and no broadcasting is needed.
        const uint32_t b = node.inputs[1];
        if ((layout[in] == Layout::kChannelsLast ||
             layout[b] == Layout::kChannelsLast) &&
            graph.values[in].shape == graph.values[b].shape &&
            graph.values[in].shape.size() == 4) {
          layout[out] = Layout::kChannelsLast;
        }
        break;
      }
      case OpKind::kConcat:
      case OpKind::kGlobalAveragePool:
      case OpKind::kGather:
      case OpKind::kBinary:
      case OpKind::kUnary:
      case OpKind::kReduceMean:
      case OpKind::kLayerNorm:
      case OpKind::kSoftmax:
      case OpKind::kTranspose:
      case OpKind::kReshape:
      case OpKind::kWhere:
      case OpKind::kSlice:
      case OpKind::kSplit:
      case OpKind::kExpand:
      case OpKind::kConstant:
        break;
      case OpKind::kRelu:
      case OpKind::kClip:
        layout[out] = layout[in];
        break;
      case OpKind::kFlatten: {
        // Keeping the last dimension keeps the feature-major bytes valid.
        const Shape& x = graph.values[in].shape;
        const Shape& y = graph.values[out].shape;
        const bool same_features =
            !x.empty() && x.back() > 0 && x.back() == y.back();
        if (same_features && layout[in] == Layout::kFeatureMajor) {
          layout[out] = Layout::kFeatureMajor;
        }
        break;
      }
    }
  }
  for (uint32_t i : graph.inputs) {
    inputs.push_back(
        {graph.values[i].name, graph.values[i].shape, graph.values[i].dtype});
  }
  for (uint32_t o : graph.outputs) {
    outputs.push_back({graph.values[o].name, graph.values[o].shape});
  }
  plan_memory();
  describe_layers();
  estimate_unit_work();
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
  run->team = onednn_work(run, input_elements / unit_input_elements) >=
              kMinTeamWork;
  return run->team;
}

double Engine::Impl::onednn_work(Run* run_state, double scale) const {
  const Run& run = *run_state;
  if (has_matmul) {
    // The shapes every node will see (run_node infers them again).
    for (const NodeDesc& node : graph.nodes) {
      std::vector<Shape> input_shapes;
      for (uint32_t v : node.inputs) {
        input_shapes.push_back(v == kNoValue ? Shape{} : run.shapes[v]);
      }
      const std::vector<Shape> output_shapes =
          infer_output_shapes(graph, node, input_shapes);
      for (size_t k = 0; k < node.outputs.size(); ++k) {
        if (node.outputs[k] != kNoValue) {
          run_state->shapes[node.outputs[k]] = output_shapes[k];
        }
      }
    }
  }
  double work = 0;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const double macs = unit_macs[i] * scale;
    const auto rows =
        static_cast<size_t>(std::max(1.0, std::round(unit_rows[i] * scale)));
    switch (graph.nodes[i].op) {
      case OpKind::kLinear:
        if (linear[i]->kernel_for(rows) == LinearKernel::kOneDnn) {
          work += macs;
        }
        break;
      case OpKind::kConv:
        if (conv[i]->kernel() == LinearKernel::kOneDnn) work += macs;
        break;
      case OpKind::kMatMul: {
        const Shape& a = run.shapes[graph.nodes[i].inputs[0]];
        work += static_cast<double>(
                    element_count(run.shapes[graph.nodes[i].outputs[0]])) *
                static_cast<double>(a.empty() ? 1 : a.back());
        break;
      }
      case OpKind::kLstm: {
        // Steps and batch are exact when X is a model input (it usually
        // is); otherwise the batch is taken to have grown with the run.
        const NodeDesc& node = graph.nodes[i];
        const uint32_t x = node.inputs[0];
        size_t seq = 1, batch = rows;
        if (std::find(graph.inputs.begin(), graph.inputs.end(), x) !=
            graph.inputs.end()) {
          const Shape& xs = run.shapes[x];
          seq = static_cast<size_t>(xs[node.lstm.input_batch_major ? 1 : 0]);
          batch = static_cast<size_t>(xs[node.lstm.input_batch_major ? 0 : 1]);
        } else {
          const Shape& xu = graph.values[x].shape;
          seq = xu.size() == 3
                    ? static_cast<size_t>(std::max<int64_t>(
                          1, xu[node.lstm.input_batch_major ? 1 : 0]))
                    : 1;
        }
        work += lstm[i]->onednn_multiply_adds(seq, std::max<size_t>(batch, 1));
        break;
      }
      default:
        break;
    }
  }
  return work;
}

void Engine::Impl::estimate_unit_work() {
  std::vector<Shape> unit(graph.values.size());
  for (size_t v = 0; v < unit.size(); ++v) {
    unit[v] = graph.values[v].shape;
    for (int64_t& d : unit[v]) d = d > 0 ? d : 1;
  }
  auto elements = [](const Shape& s) {
    double count = 1;
    for (int64_t d : s) count *= static_cast<double>(d);
    return count;
  };
  unit_rows.assign(graph.nodes.size(), 1.0);
  unit_macs.assign(graph.nodes.size(), 0.0);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const NodeDesc& node = graph.nodes[i];
    if (node.inputs.empty() || node.inputs[0] == kNoValue) continue;
    const Shape& x = unit[node.inputs[0]];
    if (x.empty()) continue;
    switch (node.op) {
      case OpKind::kLinear: {
        const double n =
            elements(x) / static_cast<double>(linear[i]->in_features());
        unit_rows[i] = n;
        unit_macs[i] = n * static_cast<double>(linear[i]->in_features() *
                                               linear[i]->out_features());
        break;
      }
      case OpKind::kConv:
        if (x.size() == 4 && graph.values[node.inputs[0]].shape[2] > 0 &&
            graph.values[node.inputs[0]].shape[3] > 0) {
          unit_macs[i] = static_cast<double>(conv[i]->multiply_adds(x));
        }
        break;
      case OpKind::kLstm: {
        // Every gate over [x, h] at every step, as if dense.
        const Shape& w = layers[i].weight_shape;
        if (w.size() == 2 && x.size() == 3) {
          unit_rows[i] = static_cast<double>(
              x[node.lstm.input_batch_major ? 0 : 1]);
          unit_macs[i] = static_cast<double>(w[0] * w[1]) * elements(x) /
                         static_cast<double>(x.back()) * node.lstm.directions();
        }
        break;
      }
      default:
        break;
    }
  }
  unit_input_elements = 0;
  for (uint32_t v : graph.inputs) unit_input_elements += elements(unit[v]);
  if (unit_input_elements <= 0) unit_input_elements = 1;
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
  slot_of.assign(value_count, kNoSlot);
  in_place.assign(node_count, false);
  std::vector<size_t> slot_bytes;
  std::vector<size_t> live;  // values alive in each slot
  std::vector<uint32_t> free_slots;
  for (size_t i = 0; i < node_count; ++i) {
    const NodeDesc& node = graph.nodes[i];
    const uint32_t in = node.inputs.empty() ? kNoValue : node.inputs[0];
    const bool elementwise =
        node.op == OpKind::kRelu || node.op == OpKind::kClip ||
        node.op == OpKind::kAdd || node.op == OpKind::kUnary ||
        node.op == OpKind::kBinary || node.op == OpKind::kLayerNorm ||
        node.op == OpKind::kSoftmax;
    for (uint32_t o : node.outputs) {
      if (o == kNoValue) continue;
      if (node.op == OpKind::kConstant) continue;  // the weight's own bytes
      memory.unplanned_bytes += bytes_of(o);
      if (node.op == OpKind::kFlatten || node.op == OpKind::kReshape) {
        slot_of[o] = slot_of[in];  // same bytes (or a model input's)
        if (slot_of[o] != kNoSlot) ++live[slot_of[o]];
        continue;
      }
      if (elementwise && in != kNoValue && slot_of[in] != kNoSlot &&
          last_use[in] == i && live[slot_of[in]] == 1 &&
          graph.values[in].shape == graph.values[o].shape &&
          layout[in] == layout[o]) {
        slot_of[o] = slot_of[in];
        ++live[slot_of[o]];
        in_place[i] = true;
        continue;
      }
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
    info.activation = activation_name(node.activation);
    info.storage = "-";
    if (node.op == OpKind::kLstm) describe_lstm(i, &info);
    if (node.op == OpKind::kLinear) {
      for (const auto& r : linear[i]->choice().ranges()) {
        info.kernels.push_back({static_cast<int64_t>(r.min_batch),
                                linear_kernel_name(r.kernel), r.speedup});
      }
    }
    if (node.op == OpKind::kConv) {
      // One choice for every batch: each image is its own product.
      info.kernels.push_back(
          {1, linear_kernel_name(conv[i]->kernel()), conv[i]->speedup()});
    }
    if (node.op == OpKind::kLinear || node.op == OpKind::kConv) {
      const WeightDesc& w = graph.weights[node.weights[0]];
      info.storage = w.layout == WeightLayout::kCsr   ? "csr"
                     : w.layout == WeightLayout::kBsr ? "bsr"
                                                      : "dense";
      info.weight_shape = w.shape;
      info.sparsity = w.sparsity();
      if (w.layout == WeightLayout::kCsr) {
        info.index_bits = static_cast<int>(w.csr.index_width);
      } else if (w.layout == WeightLayout::kBsr) {
        info.index_bits = static_cast<int>(w.bsr.index_width);
        info.block_shape = std::to_string(w.bsr.block_rows) + "x" +
                           std::to_string(w.bsr.block_cols);
      }
      for (uint32_t wi : node.weights) {
        info.stored_bytes += graph.weights[wi].stored_bytes;
        info.dense_bytes += graph.weights[wi].dense_count() * sizeof(float);
      }
    }
    layers.push_back(std::move(info));
  }
}

// An LSTM's row: its weights together ([4H, input + H] per direction), the
// kernel per batch width, and the storage of its matrices ("csr", or
// "csr+dense" when they differ).
void Engine::Impl::describe_lstm(size_t node_index, LayerInfo* info) const {
  const NodeDesc& node = graph.nodes[node_index];
  const LstmOp& op = *lstm[node_index];
  for (const auto& r : op.choice().ranges()) {
    info->kernels.push_back({static_cast<int64_t>(r.min_batch),
                             op.kernel_name(r.min_batch), r.speedup});
  }
  std::set<std::string> storage;
  double zeros = 0;
  double matrix_elements = 0;
  for (size_t k = 0; k < node.weights.size(); ++k) {
    const WeightDesc& w = graph.weights[node.weights[k]];
    info->stored_bytes += w.stored_bytes;
    info->dense_bytes += w.dense_count() * sizeof(float);
    if (k % 3 == 2) continue;  // bias
    storage.insert(w.layout == WeightLayout::kCsr   ? "csr"
                   : w.layout == WeightLayout::kBsr ? "bsr"
                                                    : "dense");
    zeros += w.sparsity() * static_cast<double>(w.dense_count());
    matrix_elements += static_cast<double>(w.dense_count());
    if (w.layout != WeightLayout::kDense) {
      info->index_bits =
          static_cast<int>(w.layout == WeightLayout::kCsr ? w.csr.index_width
                                                          : w.bsr.index_width);
    }
    if (w.layout == WeightLayout::kBsr) {
      info->block_shape = std::to_string(w.bsr.block_rows) + "x" +
                          std::to_string(w.bsr.block_cols);
    }
  }
  info->storage.clear();
  for (const std::string& s : storage) {
    info->storage += (info->storage.empty() ? "" : "+") + s;
  }
  const WeightDesc& w = graph.weights[node.weights[0]];
  info->weight_shape = {w.shape[0], w.shape[1] + node.lstm.hidden_size};
  info->sparsity = matrix_elements > 0 ? zeros / matrix_elements : 0.0;
}

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
    if (graph.values[*it].dtype == DataType::kInt64) {
      if (input.int64_data == nullptr) {
        throw Error("input '" + input.name +
                    "' is int64: pass its values in "
                    "Input::int64_data");
      }
      // Held as float inside: exact for |v| <= 2^24.
      std::vector<float>& held = run->own[*it];
      const size_t count = element_count(input.shape);
      held.resize(count);
      for (size_t k = 0; k < count; ++k) {
        const int64_t v = input.int64_data[k];
        if (v > (int64_t{1} << 24) || v < -(int64_t{1} << 24)) {
          throw Error("input '" + input.name + "' has value " +
                      std::to_string(v) + " at position " + std::to_string(k) +
                      "; int64 inputs must lie within ±2^24");
        }
        held[k] = static_cast<float>(v);
      }
      run->data[*it] = held.data();
      continue;
    }
    if (input.data == nullptr) {
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
        std::memcpy(&bits, input.data + k, sizeof bits);
        if ((bits & 0x7f800000u) == 0x7f800000u) {
          throw Error("input '" + input.name + "' has " +
                      ((bits & 0x007fffffu) != 0 ? "NaN" : "an infinity") +
                      " at position " + std::to_string(k));
        }
      }
    }
    run->data[*it] = input.data;
  }
  for (const TensorInfo& t : inputs) {
    if (seen.count(t.name) == 0) {
      throw Error("missing input '" + t.name + "' of shape " +
                  to_string(t.shape));
    }
  }
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

void Engine::Impl::run_lstm(size_t node_index, Run* run) const {
  const NodeDesc& node = graph.nodes[node_index];
  const LstmOp& op = *lstm[node_index];
  const LstmParams& p = node.lstm;
  const Shape& x = run->shapes[node.inputs[0]];
  LstmOp::Io io;
  io.seq = static_cast<size_t>(p.input_batch_major ? x[1] : x[0]);
  io.batch = static_cast<size_t>(p.input_batch_major ? x[0] : x[1]);
  io.x = in_layout(node.inputs[0],
                   op.input_feature_major(io.batch) ? Layout::kFeatureMajor
                                                    : Layout::kRowMajor,
                   run);
  auto input = [&](size_t k) -> const float* {
    if (k >= node.inputs.size() || node.inputs[k] == kNoValue) return nullptr;
    return run->data[node.inputs[k]];
  };
  io.h0 = input(1);
  io.c0 = input(2);
  auto output = [&](size_t k) -> float* {
    if (k >= node.outputs.size() || node.outputs[k] == kNoValue) return nullptr;
    return allocate(node.outputs[k], run);
  };
  io.y = output(0);
  io.y_feature_major = node.outputs[0] != kNoValue &&
                       layout[node.outputs[0]] == Layout::kFeatureMajor;
  io.y_h = output(1);
  io.y_c = output(2);
  op.run(io, run->threads);
}

// Row-major: each input contributes its rows of prod(dims[axis:]) elements
// to every one of the prod(dims[:axis]) outer rows.
void Engine::Impl::run_concat(const NodeDesc& node, Run* run) const {
  const uint32_t out = node.outputs[0];
  float* y = allocate(out, run);
  const Shape& ys = run->shapes[out];
  const auto axis = static_cast<size_t>(node.axis);
  size_t outer = 1;
  for (size_t d = 0; d < axis; ++d) outer *= static_cast<size_t>(ys[d]);
  const size_t out_row = outer == 0 ? 0 : element_count(ys) / outer;
  size_t offset = 0;
  for (uint32_t v : node.inputs) {
    const float* x = in_layout(v, Layout::kRowMajor, run);
    const size_t row = outer == 0 ? 0 : element_count(run->shapes[v]) / outer;
    for (size_t o = 0; o < outer; ++o) {
      std::copy(x + o * row, x + (o + 1) * row, y + o * out_row + offset);
    }
    offset += row;
  }
}

void Engine::Impl::run_node(size_t i, Run* run) const {
  const NodeDesc& node = graph.nodes[i];
  std::vector<Shape> input_shapes;
  for (uint32_t v : node.inputs) {
    input_shapes.push_back(v == kNoValue ? Shape{} : run->shapes[v]);
  }
  const std::vector<Shape> output_shapes =
      infer_output_shapes(graph, node, input_shapes);
  for (size_t k = 0; k < node.outputs.size(); ++k) {
    if (node.outputs[k] != kNoValue) {
      run->shapes[node.outputs[k]] = output_shapes[k];
    }
  }
  if (node.op >= OpKind::kGather) return run_tensor_op(i, run);
  const uint32_t in = node.inputs[0];
  const uint32_t out = node.outputs[0];
  const bool off_plan = in_place[i] && element_count(run->shapes[out]) !=
                                           element_count(run->shapes[in]);
  switch (node.op) {
    case OpKind::kLinear: {
      const float* x =
          in_layout(in,
                    linear[i]->x_feature_major() ? Layout::kFeatureMajor
                                                 : Layout::kRowMajor,
                    run);
      const size_t n =
          element_count(run->shapes[in]) / linear[i]->in_features();
      float* y = allocate(out, run);
      linear[i]->run(x, n, y, run->threads);
      break;
    }
    case OpKind::kRelu: {
      const float* x = run->data[in];
      float* y = allocate(out, run, off_plan);
      const size_t count = element_count(run->shapes[out]);
      for (size_t k = 0; k < count; ++k) y[k] = x[k] > 0.0f ? x[k] : 0.0f;
      break;
    }
    case OpKind::kClip: {
      const float* x = run->data[in];
      float* y = allocate(out, run, off_plan);
      clip(x, element_count(run->shapes[out]), node.clip_min, node.clip_max, y);
      break;
    }
    case OpKind::kFlatten:
      // Same bytes, new shape: no copy unless the layout must change.
      run->data[out] = in_layout(in, layout[out], run);
      break;
    case OpKind::kLstm:
      run_lstm(i, run);
      break;
    case OpKind::kConcat:
      run_concat(node, run);
      break;
    case OpKind::kConv: {
      const float* x = in_layout(in, layout[out], run);
      float* y = allocate(out, run);
      conv[i]->run(x, run->shapes[in], y, layout[out] == Layout::kChannelsLast,
                   run->threads);
      break;
    }
    case OpKind::kMaxPool:
    case OpKind::kAveragePool: {
      const float* x = in_layout(in, layout[out], run);
      pool[i]->run(x, run->shapes[in], allocate(out, run),
                   layout[out] == Layout::kChannelsLast);
      break;
    }
    case OpKind::kGlobalAveragePool: {
      const bool channels_last = layout[in] == Layout::kChannelsLast;
      const float* x =
          channels_last ? run->data[in] : in_layout(in, Layout::kRowMajor, run);
      global_average_pool(x, run->shapes[in], allocate(out, run),
                          channels_last);
      break;
    }
    case OpKind::kAdd: {
      const uint32_t b = node.inputs[1];
      const float* xa = in_layout(in, layout[out], run);
      const float* xb = in_layout(b, layout[out], run);
      float* y = allocate(out, run, off_plan);
      add_broadcast(xa, run->shapes[in], xb, run->shapes[b], y,
                    run->shapes[out], node.activation);
      break;
    }
    default:
      break;
  }
}

void Engine::Impl::run_tensor_op(size_t i, Run* run) const {
  const NodeDesc& node = graph.nodes[i];
  const uint32_t out = node.outputs[0];
  const Shape& ys = run->shapes[out];
  auto input = [&](size_t k) {
    return in_layout(node.inputs[k], Layout::kRowMajor, run);
  };
  auto shape = [&](size_t k) -> const Shape& {
    return run->shapes[node.inputs[k]];
  };
  // In-place ops write over their input when the plan says so; a broadcast
  // that grew the output gets its own buffer.
  auto output = [&]() {
    const bool off_plan =
        in_place[i] && element_count(ys) != element_count(shape(0));
    return allocate(out, run, off_plan);
  };
  switch (node.op) {
    case OpKind::kConstant:
      run->data[out] = graph.weights[node.weights[0]].values;
      return;
    case OpKind::kReshape:
      run->data[out] = input(0);  // same bytes, new shape
      return;
    case OpKind::kGather: {
      const WeightDesc& table = graph.weights[node.weights[0]];
      const auto rows = static_cast<size_t>(table.shape[0]);
      const size_t width = element_count(table.shape) / rows;
      const float* ids = input(0);
      gather_rows(table.values, rows, width, ids, element_count(shape(0)),
                  allocate(out, run), node.name);
      return;
    }
    case OpKind::kBinary: {
      const float* a = input(0);
      const float* b = input(1);
      binary(node.binary_op, a, shape(0), b, shape(1), output(), ys);
      return;
    }
    case OpKind::kUnary: {
      const float* x = input(0);
      unary(node.unary_op, x, element_count(ys), output());
      return;
    }
    case OpKind::kWhere: {
      const float* c = input(0);
      const float* a = input(1);
      const float* b = input(2);
      where(c, shape(0), a, shape(1), b, shape(2), allocate(out, run), ys);
      return;
    }
    case OpKind::kExpand: {
      const float* x = input(0);
      const Shape& xs = shape(0);
      broadcast_map<1>({x}, {&xs}, ys, allocate(out, run),
                       [](float v) { return v; });
      return;
    }
    case OpKind::kReduceMean:
      reduce_mean(input(0), shape(0), node.ints, allocate(out, run));
      return;
    case OpKind::kLayerNorm: {
      const float* x = input(0);
      const auto axis = static_cast<size_t>(node.axis);
      size_t inner = 1;
      for (size_t d = axis; d < ys.size(); ++d)
        inner *= static_cast<size_t>(ys[d]);
      const float* bias = node.weights.size() > 1
                              ? graph.weights[node.weights[1]].values
                              : nullptr;
      kernels::layer_norm_rows(x, element_count(ys) / inner, inner,
                               graph.weights[node.weights[0]].values, bias,
                               node.epsilon, output());
      return;
    }
    case OpKind::kSoftmax: {
      const float* x = input(0);
      softmax(x, shape(0), static_cast<size_t>(node.axis), node.coerce_2d,
              output());
      return;
    }
    case OpKind::kMatMul: {
      const float* a = input(0);
      const float* b = input(1);
      matmul[i]->run(a, shape(0), b, shape(1), allocate(out, run), ys);
      return;
    }
    case OpKind::kTranspose:
      transpose(input(0), shape(0), node.ints, allocate(out, run));
      return;
    case OpKind::kSlice: {
      const Shape* ref = node.inputs.size() > 1 ? &shape(1) : nullptr;
      slice(input(0), shape(0), resolve_slice(node, shape(0), ref),
            allocate(out, run), ys);
      return;
    }
    case OpKind::kSplit: {
      const float* x = input(0);
      std::vector<float*> outs;
      for (uint32_t o : node.outputs) outs.push_back(allocate(o, run));
      split(x, shape(0), static_cast<size_t>(node.axis), node.ints, outs);
      return;
    }
    default:
      throw Error(std::string("no runner for op ") + op_name(node.op));
  }
}

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

void Engine::Impl::compute(Run* run_state, std::vector<Tensor>* results,
                           RunProfile* profile) const {
  Run& run = *run_state;
  const ScopedOmpThreads omp_threads(run.threads);
  // A small run kept on its caller splits spruce's own kernels over the
  // worker pool, with the Engine's threads.
  const ScopedPoolThreads pool_threads(run.threads == 1 ? threads : 1);
  const ScopedFlushDenormals flush_denormals;
  const size_t nodes = graph.nodes.size();
  if (profile == nullptr) {
    for (size_t i = 0; i < nodes; ++i) run_node(i, &run);
  } else {
    profile->seconds.resize(nodes, 0.0);
    profile->flops.resize(nodes, 0.0);
    profile->kernels.resize(nodes, "-");
    for (size_t i = 0; i < nodes; ++i) {
      const auto start = std::chrono::steady_clock::now();
      run_node(i, &run);
      profile->seconds[i] += std::chrono::duration<double>(
                                 std::chrono::steady_clock::now() - start)
                                 .count();
      count_work(i, run, &profile->flops[i], &profile->kernels[i]);
    }
    ++profile->runs;
  }

  results->resize(graph.outputs.size());
  for (size_t k = 0; k < graph.outputs.size(); ++k) {
    const uint32_t o = graph.outputs[k];
    const float* data = in_layout(o, Layout::kRowMajor, &run);
    Tensor& out = (*results)[k];
    out.reset(run.shapes[o]);
    std::copy(data, data + out.size(), out.data());
  }
}

void Engine::Impl::count_work(size_t i, const Run& run, double* flops,
                              std::string* kernel) const {
  const NodeDesc& node = graph.nodes[i];
  const Shape& x = run.shapes[node.inputs.empty() ? 0 : node.inputs[0]];
  switch (node.op) {
    case OpKind::kLinear: {
      const LinearOp& op = *linear[i];
      const size_t n = element_count(x) / op.in_features();
      *flops += 2.0 * static_cast<double>(op.multiply_adds(n));
      *kernel = linear_kernel_name(op.kernel_for(n));
      return;
    }
    case OpKind::kConv: {
      *flops += 2.0 * static_cast<double>(conv[i]->multiply_adds(x));
      *kernel = linear_kernel_name(conv[i]->kernel());
      return;
    }
    case OpKind::kMatMul: {
      const Shape& y = run.shapes[node.outputs[0]];
      const auto k = static_cast<double>(x.back());
      *flops += 2.0 * static_cast<double>(element_count(y)) * k;
      *kernel = "onednn";
      return;
    }
    case OpKind::kLstm: {
      const bool batch_major = node.lstm.input_batch_major;
      const int64_t batch = x.size() == 3 ? x[batch_major ? 0 : 1] : 1;
      *kernel = lstm[i]->kernel_name(static_cast<size_t>(std::max<int64_t>(
          batch, 1)));
      return;
    }
    default:
      return;
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
