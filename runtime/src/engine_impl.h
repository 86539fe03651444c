// The Engine's insides, shared by its three files: engine.cc (the public
// API), plan.cc (at load: ops, layouts, memory) and execute.cc (a run).
//
// Activation layout: Linear kernels want feature-major activations
// ([features × n], n = batch × tokens contiguous). The plan marks each tensor
// feature-major, row-major (ONNX's layout) or channels-last, so that a chain
// of sparse Linears never transposes and a chain of oneDNN convolutions
// stays NHWC; a conversion happens only where neighbours differ, and never
// when both layouts are the same bytes (n == 1).
#ifndef SPRUCE_RUNTIME_ENGINE_IMPL_H_
#define SPRUCE_RUNTIME_ENGINE_IMPL_H_

#include <omp.h>

#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

#include "graph.h"
#include "mapped_file.h"
#include "ops/op.h"
#include "parallel.h"
#include "spruce/engine.h"
#include "spruce/error.h"

namespace spruce {

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

struct Engine::Impl {
  std::string path;
  EngineOptions options;
  int threads = 1;
  MappedFile file;
  Graph graph;
  dnnl::engine dnnl_engine{dnnl::engine::kind::cpu, 0};
  std::vector<std::unique_ptr<Op>> ops;  // per node
  std::vector<Layout> layout;            // per value, chosen at plan time
  // Memory plan: each computed value lives in a slot, a buffer shared over
  // time by values whose lifetimes do not overlap (kNoSlot: a model input, a
  // weight's bytes, or an alias of its input's bytes through Flatten or
  // Reshape). In-place ops write into an input's slot when that input
  // dies there (`in_place_input`: which input, or kNotInPlace).
  static constexpr uint32_t kNoSlot = 0xFFFFFFFF;
  static constexpr uint32_t kNotInPlace = 0xFFFFFFFF;
  std::vector<uint32_t> slot_of;         // per value
  std::vector<uint32_t> in_place_input;  // per node
  size_t slot_count = 0;
  MemoryPlanInfo memory;
  std::vector<TensorInfo> inputs;
  std::vector<TensorInfo> outputs;
  std::vector<LayerInfo> layers;

  // plan.cc
  void plan();
  // The layouts with each conversion's estimated cost times
  // `conversion_scale` (LayoutPlanner::conversion_scale()).
  void plan_layouts(double conversion_scale);
  // Plans layouts at each of EngineOptions::layout_plan_scales and, where
  // they differ, keeps the one whose whole runs were fastest; then the
  // memory plan and unit work for it.
  void choose_layout_plan();
  LayoutPlanInfo layout_plans;
  void plan_memory();
  void describe_layers();
  // A run's size relative to the declared shapes with each dynamic
  // dimension 1 ("unit" shapes): its input elements over theirs. Each op's
  // work scales with it, and each Linear's rows too (from unit_rows).
  double unit_input_elements = 1;
  std::vector<double> unit_rows;  // per node: a Linear's or LSTM's batch
  std::vector<double> unit_macs;  // per node: multiply-adds at unit shapes
  void estimate_unit_work();
  // Whether a batch may run image by image (EngineOptions::split_batch): a
  // convolutional model whose every input and output has a dynamic first
  // dimension and whose every op computes images apart (BatchRule); and
  // which values are computed from the inputs (per value).
  bool per_image = false;
  std::vector<bool> from_inputs;
  void plan_per_image();
  // Where a batch run image by image joins up: nodes from `whole_from` on
  // run once over the batch (each thread's share of it; graph.nodes.size():
  // none do), on the images' values that cross to them (`crossing`:
  // computed before it and read from it on, or model outputs), each
  // stitched into one batch tensor in its layout. Chosen at load where the
  // nodes' weights outweigh one image's activations (choose_whole_tail).
  size_t whole_from = 0;
  std::vector<uint32_t> crossing;
  void choose_whole_tail();
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
    bool alone = false;                // one thread, not even the pool
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

  // engine.cc: one run of the whole batch; the batch size when `inputs`
  // run image by image instead (0 if they do not: see per_image, and every
  // value computed from them must have that batch first and nothing else
  // depend on it); and that run.
  // `alone`: on the calling thread only, no team, no worker pool.
  void run_once(const std::vector<Input>& inputs, std::vector<Tensor>* outputs,
                RunProfile* profile, bool alone = false) const;
  size_t images_apart(const std::vector<Input>& inputs) const;
  void run_per_image(const std::vector<Input>& inputs, size_t images,
                     std::vector<Tensor>* outputs, RunProfile* profile) const;
  // A bound run's threads: the Engine's where its oneDNN work is worth a
  // team (or without the team leader), else 1; `alone`: 1, not even the
  // worker pool.
  void set_threads(Run* run, bool alone) const;
  // Runs a bound run's nodes [begin, end) on its own threads or the team
  // leader's.
  void run_nodes_on_team(Run* run, size_t begin, size_t end,
                         RunProfile* profile) const;

  // execute.cc
  void bind_inputs(const std::vector<Input>& given, Run* run) const;
  // Multiply-adds oneDNN would do in `run` (scale: its size relative to the
  // unit shapes), with the kernels chosen for its batches. When some op's
  // work depends on more than the scale (a MatMul of two activations grows
  // with the square of the sequence), the run's shapes are inferred first.
  double onednn_work(Run* run, double scale) const;
  bool has_matmul = false;
  // Whether a bound run has enough oneDNN work for a team: a run without
  // stays on its calling thread, alone for oneDNN and with the worker pool
  // for spruce's kernels, rather than pay the hand-off to the team leader
  // and a team's wake-up, or queue there for nothing while many threads
  // serve a small model.
  bool worth_a_team(Run* run) const;
  // Runs nodes [begin, end) of a bound run (each's time in `profile`).
  void run_nodes(Run* run, size_t begin, size_t end, RunProfile* profile) const;
  // Copies a run's outputs out, row-major.
  void collect_outputs(Run* run, std::vector<Tensor>* results) const;
  // Sets the shapes of node i's outputs in `run`.
  void infer_shapes(size_t node_index, Run* run) const;
  void run_node(size_t node_index, Run* run) const;
  class NodeRunContext;  // node i's view of a run (ops/op.h)
  // `value`'s data in the wanted layout, transposing into run->converted.
  const float* in_layout(uint32_t value, Layout want, Run* run) const;
  // `value`'s buffer: its slot, or its own when `off_plan` (an in-place op
  // whose output turned out larger than its input, by broadcasting).
  float* allocate(uint32_t value, Run* run, bool off_plan = false) const;
};

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_ENGINE_IMPL_H_
