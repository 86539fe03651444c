// spruce::Engine: load a .spruce model once, run it many times, from many
// threads at once.
#ifndef SPRUCE_ENGINE_H_
#define SPRUCE_ENGINE_H_

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "spruce/tensor.h"

namespace spruce {

struct EngineOptions {
  // Threads each run() uses; 0 = OpenMP's default (all cores, or
  // OMP_NUM_THREADS). With more than one, a run is handed to spruce's team
  // leader, one thread per process that leads every OpenMP team (spruce's
  // kernels and oneDNN's), whichever thread calls run(): libgomp slows
  // every parallel region 2-3x once several threads each lead a team.
  // Concurrent multi-threaded runs take turns there, first come first
  // served; a run too small to gain from a team (under about 2 million
  // multiply-adds, estimated from its input sizes) runs on its calling
  // thread with one thread. For many small concurrent requests, 1 (each
  // request on its caller's core) gives the most throughput.
  int num_threads = 0;
  // false: multi-threaded runs lead their OpenMP team from the calling
  // thread, as before the team leader existed. Only as fast when a single
  // thread (the loading one) ever calls run(); for comparison
  // (`spruce bench --no-team-leader`).
  bool use_team_leader = true;
  // Run every layer dense, whatever the file stores, on the fastest of
  // spruce's dense kernels (oneDNN's, with weights packed at load, or
  // spruce's own for a few rows), timed at load like the sparse ones: the
  // baseline that `spruce bench --compare-dense` measures against, laid out
  // as a dense model is.
  bool force_dense = false;
  // How each layer picks its kernel:
  //  kMeasure: at load, time every candidate on this CPU with the threads
  //    runs will use, at batch widths 1, 2, 4, 8, 16 and 64 (an LSTM, GRU
  //    or RNN at batch 1, 4 and 16), and keep the fastest for each range of
  //    widths; a sparse kernel must be 5% faster than the fastest dense one
  //    to be chosen, so a pruned model does not run slower than its dense
  //    original. Costs a few tens of milliseconds per layer at load.
  //  kSparsityThreshold: the stored sparse format (CSR or BSR) for every
  //    batch when at least `sparse_kernel_min_sparsity` of the weight is
  //    zero, else oneDNN. Deterministic and instant; 0.8 is the measured
  //    CSR crossover on AVX-512 (bench/RESULTS.md).
  enum class KernelSelection : uint8_t { kMeasure, kSparsityThreshold };
  KernelSelection kernel_selection = KernelSelection::kMeasure;
  double sparse_kernel_min_sparsity = 0.8;
  // The kernels layers may run, by name (LayerInfo::kernels lists them);
  // empty: all. A layer none of whose allowed kernels applies (a dense
  // weight when only sparse kernels are allowed) runs oneDNN. For
  // comparisons: {"onednn"} runs the model as oneDNN alone would. An unknown
  // name makes load() throw.
  std::vector<std::string> kernels;
  // Refuse float inputs holding NaN or an infinity (a spruce::Error naming
  // the input and position) instead of propagating them into the outputs.
  // One pass over each input per run.
  bool reject_non_finite_inputs = true;
  // Verify the file's checksums at load. Costs one read of the file; turn off
  // only for files you produced yourself and trust.
  bool verify_checksums = true;
  // Run a batch of images one image after another when the model is a
  // convolutional one that computes each image on its own (every op keeps
  // the batch's first dimension apart, which is checked at load and on the
  // shapes of each run): each image's activations then stay in cache from
  // layer to layer, where a whole batch's stream through memory. The last
  // layers, where weights outweigh an image's activations, still run once
  // over the batch (Engine::whole_batch_from). Results are the same either
  // way.
  bool split_batch = true;
  // The layout plans tried at load (LayoutPlanInfo; with kMeasure only):
  // each a scale on the estimated cost of converting activations between
  // NCHW and channels-last. Where they give different layouts, whole runs
  // of each are timed for 300 ms (at least three runs of each plan: longer
  // for a model whose run takes over 30 ms). {1}: the estimates as they
  // are, nothing more timed.
  std::vector<double> layout_plan_scales = {1.0, 0.25, 4.0};
};

// How one range of batch widths of a layer runs, as chosen at load.
struct KernelRange {
  // Batches from this one up to the next range's min_batch (the last range:
  // every wider batch). For a Linear the batch is the number of rows it
  // multiplies (batch × tokens); for a recurrent layer, its batch.
  int64_t min_batch = 1;
  // "onednn", "dense-packed", "sparse-lookup", "sparse-csr", "sparse-bsr";
  // for a recurrent layer "onednn-lstm" (-gru, -rnn) or
  // "steps(<projection>, <recurrent>)".
  std::string kernel;
  // The fastest dense implementation's time over this kernel's, both
  // measured at load at min_batch (1 where dense runs or nothing was
  // measured).
  double speedup = 1.0;
};

// One layer of the loaded model, as planned: what it is and how it runs.
struct LayerInfo {
  std::string name;
  std::string op;       // "Linear", "Conv", "LSTM", "GRU", "Relu", ...
  std::string storage;  // weight format in the file: "csr", "dense", "bsr"
  // What runs each range of batch widths, ascending; empty for layers with
  // no choice of kernel.
  std::vector<KernelRange> kernels;
  std::string block_shape;  // "RxC" for a BSR weight, else empty
  std::string activation;   // fused activation, "" if none
  // [out, in] for Linear, [out, in/group · kh · kw] for Conv, [G·H, in + H]
  // for LSTM (G = 4), GRU (3) and RNN (1), empty otherwise.
  Shape weight_shape;
  double sparsity = 0;      // fraction of zero weights
  int index_bits = 0;       // column index width of a sparse weight
  size_t stored_bytes = 0;  // weight bytes in the file (bias included)
  size_t dense_bytes = 0;   // the same weights stored dense

  // The range holding `batch`; null when the layer has none.
  const KernelRange* kernel_for(int64_t batch) const {
    const KernelRange* found = nullptr;
    for (const KernelRange& r : kernels) {
      if (found == nullptr || r.min_batch <= batch) found = &r;
    }
    return found;
  }
};

// Pruned layers whose pruning buys nothing: weights at least 25% zeros that
// run a dense kernel at batch 1, too dense for the sparse kernels to beat
// dense on this CPU (global pruning leaves a network's first stages so).
// `spruce inspect` prints message() as a warning.
struct PruningAdvice {
  std::vector<std::string> layers;  // their names, in model order
  double min_sparsity = 0, max_sparsity = 0;
  // Their dense weight bytes over those of every layer with a weight.
  double weight_share = 0;
  // One paragraph naming them and what to do; "" when there are none.
  std::string message() const;
};
PruningAdvice pruning_advice(const std::vector<LayerInfo>& layers);

// How the activations' layouts between layers were chosen at load. Each
// convolution picks its kernel and layout from load-time estimates of its
// own time and of converting its neighbours' layouts (NCHW, channels-last);
// the errors in those add up along a model (one depthwise conv timed faster
// channels-last pulls the sparse convs around it to oneDNN). So the plan is
// also made with the conversions' estimates scaled
// (EngineOptions::layout_plan_scales), and where that gives other layouts,
// whole runs of each plan (the declared input shapes, dynamic dimensions
// 1) are timed and the fastest kept.
struct LayoutPlanInfo {
  // One per distinct plan timed: its conversion-estimate scale and the
  // fastest of its runs' seconds. Empty when only one plan came out (or
  // kernels were not timed, or the model does not run at its declared
  // shapes with dynamic dimensions 1).
  std::vector<double> conversion_scales;
  std::vector<double> seconds;
  size_t chosen = 0;  // the plan that runs (index into both)
};

// Activation memory as planned at load, for the declared input shapes with
// every dynamic dimension taken as 1 (scales with batch and sequence).
struct MemoryPlanInfo {
  // Buffers a run() allocates for intermediate and output tensors: tensors
  // whose lifetimes do not overlap share one, and elementwise ops write in
  // place when their input dies there.
  size_t peak_bytes = 0;
  // The same tensors each in its own buffer.
  size_t unplanned_bytes = 0;
};

// Where one or more runs spent their time, layer by layer (indices as in
// Engine::layers()). Each run(inputs, &profile) adds to it, so one profile
// can accumulate many runs.
struct RunProfile {
  size_t runs = 0;
  std::vector<double> seconds;  // wall time in each layer
  // Floating-point operations each layer performed (2 per multiply-add,
  // counting only the non-zeros a sparse kernel multiplies); 0 for layers
  // that only move or combine data.
  std::vector<double> flops;
  // Kernel each layer last ran with ("sparse-csr", "onednn", ...; "-").
  std::vector<std::string> kernels;
};

class Engine {
 public:
  // Maps `path` and checks all of it (header, checksums, schema, every offset,
  // index and shape), then plans each layer. Throws spruce::Error naming the
  // file and the problem. The file must stay unchanged while the Engine lives:
  // weights are used in place from the memory map.
  static Engine load(const std::string& path,
                     const EngineOptions& options = {});

  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;
  ~Engine();

  const std::vector<TensorInfo>& inputs() const;
  const std::vector<TensorInfo>& outputs() const;
  const std::vector<LayerInfo>& layers() const;
  const std::map<std::string, std::string>& metadata() const;
  const std::string& path() const;
  const MemoryPlanInfo& memory_plan() const;
  const LayoutPlanInfo& layout_plan() const;
  // Whether a batch runs image by image (EngineOptions::split_batch): true
  // for a convolutional model whose ops all keep images apart; each run
  // still checks its shapes and runs whole if they show otherwise.
  bool runs_images_apart() const;
  // When it does: the first layer (index into layers()) that runs once over
  // the batch instead (with threads, once over each thread's images), on
  // the images' results before it stitched into one batch; layers().size()
  // when every layer runs image by image.
  // Layers whose weights outweigh one image's activations (a CNN's last
  // stages) are cheaper run once than re-read for every image.
  size_t whole_batch_from() const;

  // Runs the model. Every model input must be given once, with its declared
  // rank and static dimensions; dynamic dimensions may take any size >= 1.
  // Returns the outputs in the order of outputs().
  // Thread-safe: many threads may call run() on one Engine at once; each
  // call uses its own activation buffers (taken from a pool the Engine
  // keeps, so steady-state runs do not allocate them again).
  // Throws spruce::Error on a bad input; the Engine stays usable.
  // Denormal floats are treated as zero while it runs (flush-to-zero and
  // denormals-are-zero on the calling thread, the team leader and every
  // OpenMP thread it leads, oneDNN's included); the calling thread's
  // floating-point mode is restored on return.
  std::vector<Tensor> run(const std::vector<Input>& inputs) const;
  // The same, writing the outputs into *outputs (resized to outputs().size())
  // and reusing their storage: a caller that keeps its output tensors across
  // calls makes no allocation per call once shapes repeat. With `profile`,
  // also times each layer into it (which one caller owns; the timer costs
  // about a microsecond per layer).
  void run(const std::vector<Input>& inputs, std::vector<Tensor>* outputs,
           RunProfile* profile = nullptr) const;
  std::vector<Tensor> run(const std::vector<Input>& inputs,
                          RunProfile* profile) const;

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace spruce

#endif  // SPRUCE_ENGINE_H_
