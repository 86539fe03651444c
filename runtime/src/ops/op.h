// The op interface: what every op file under runtime/src/ops/ provides.
//
// An op is described by its OpRule (checks, shape rule, memory behaviour,
// create) and, once a model is loaded, lives as an Op object made by
// `create`: all planning, packing and kernel timing happen there, and `run`
// only computes (oneDNN's describe → create → execute). The engine's planner
// and executor (plan.cc, execute.cc) know ops only through this header.
#ifndef SPRUCE_RUNTIME_OPS_OP_H_
#define SPRUCE_RUNTIME_OPS_OP_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <string>
#include <vector>

#include "graph.h"
#include "spruce/error.h"

namespace spruce {

struct LayerInfo;
struct LinearPlanOptions;

// How a value's bytes are laid out, chosen per value at plan time so that
// each kernel reads what it wants with as few transposes as possible.
// Row-major is ONNX's own (NCHW for images); feature-major keeps each
// feature's values over the batch and tokens contiguous (sparse Linears and
// LSTMs between each other); channels-last is NHWC (between oneDNN's
// convolutions and pools). The executor converts where neighbours differ.
enum class Layout : uint8_t { kRowMajor, kFeatureMajor, kChannelsLast };

// Where an op's first output lives, for the memory plan.
enum class OutputMemory : uint8_t {
  kOwn,              // a buffer of its own
  kInPlace,          // may overwrite input 0 when that dies here (elementwise)
  kInPlaceAny,       // may overwrite any input of the output's shape and layout
                     // that dies here (elementwise in every input: x · scale
                     // with x second, as squeeze-excite exports it)
  kInPlaceResidual,  // may overwrite input 1 (a residual its epilogue adds
                     // to each output) when that dies here
  kAliasInput,       // input 0's bytes under a new shape (Flatten, Reshape)
  kWeight,           // a weight's bytes (Constant)
};

// What an op gets at load.
struct OpInit {
  const Graph& graph;
  const NodeDesc& node;
  const LinearPlanOptions& plan;
  const dnnl::engine& engine;
};

// The layout plan as ops see it while it is made, node by node in order.
class LayoutPlanner {
 public:
  virtual ~LayoutPlanner() = default;
  virtual Layout layout(uint32_t value) const = 0;
  virtual void set_layout(uint32_t value, Layout layout) = 0;
  // Whether every reader of `value` wants it feature-major (and it is not a
  // model output).
  virtual bool feeds_only_feature_major(uint32_t value) const = 0;
  // The layout every reader of `value` would read it in, if they agree
  // (row-major for a model output), looking through readers that follow
  // their input's layout; none if any reader takes what comes.
  virtual std::optional<Layout> readers_want(uint32_t value) const = 0;
  // What an op weighing a conversion against a kernel's time multiplies the
  // conversion's estimated cost by (1 unless the engine is trying plans).
  virtual double conversion_scale() const = 0;
};

// One node's view of a run: its inputs in the layouts it asks for, its
// outputs' buffers. Shapes are already inferred for this run.
class RunContext {
 public:
  virtual ~RunContext() = default;
  virtual bool has_input(size_t k) const = 0;
  virtual const Shape& input_shape(size_t k) const = 0;
  // The layout input k's producer wrote.
  virtual Layout input_layout(size_t k) const = 0;
  // Input k's data in layout `want` (transposed once per run if needed).
  virtual const float* input(size_t k, Layout want = Layout::kRowMajor) = 0;
  virtual bool has_output(size_t k) const = 0;
  virtual const Shape& output_shape(size_t k = 0) const = 0;
  virtual Layout output_layout(size_t k = 0) const = 0;
  // Output k's buffer, written in output_layout(k). An in-place op's output
  // 0 may be its input 0's buffer.
  virtual float* output(size_t k = 0) = 0;
  // Output k is `data` (bytes owned elsewhere: an input's, a weight's).
  virtual void set_output(size_t k, const float* data) = 0;
  // Threads for spruce's kernels and oneDNN in this run.
  virtual int threads() const = 0;
};

class Op {
 public:
  virtual ~Op() = default;
  virtual void run(RunContext& ctx) const = 0;

  // Sets the layouts of the node's outputs (row-major unless set); called in
  // execution order after every op is created, in two passes (the second
  // sees what every op settled on in the first), so it must only depend on
  // the planner.
  virtual void plan_layouts(LayoutPlanner& /*planner*/) {}
  // A new plan begins: forgets what the last one settled on.
  virtual void start_planning() {}
  // The layouts are final: frees what will not run.
  virtual void finish_planning() {}
  // It will run over batches of `images` (-1: unknown) at once, not image
  // by image (the engine's batch plan): prepares for that.
  virtual void prepare_batches(int64_t /*images*/) {}
  // Whether this op would read its input feature-major at wide batches.
  virtual bool reads_feature_major() const { return false; }
  // The layout this op reads its first input in whatever it arrives in
  // (so a producer may write it so), if it has one before plan_layouts.
  virtual std::optional<Layout> wanted_input_layout() const {
    return std::nullopt;
  }
  // Whether it runs in the layout its first input arrives in, writing its
  // first output so (then what its readers want is what it wants).
  virtual bool follows_input_layout() const { return false; }

  // Fills the kernel, storage and weight columns of `spruce inspect`.
  virtual void describe(LayerInfo* /*info*/) const {}
  // Batch rows and multiply-adds at `shapes` (one per value).
  virtual void work(const std::vector<Shape>& /*shapes*/, double* /*rows*/,
                    double* /*multiply_adds*/) const {}
  // Multiply-adds oneDNN does in a run at `shapes` (one per value; only the
  // model inputs' are sure to be known), given `multiply_adds` and `rows`
  // scaled from the unit shapes.
  virtual double onednn_multiply_adds(const std::vector<Shape>& /*shapes*/,
                                      double /*multiply_adds*/,
                                      size_t /*rows*/) const {
    return 0;
  }
  // Whether onednn_multiply_adds needs every value's shape for the run (not
  // only the model inputs').
  virtual bool work_needs_run_shapes() const { return false; }
  // Adds the floating-point operations of a run at `shapes` (one per value)
  // to *flops and names the kernel that does them.
  virtual void count_work(const std::vector<Shape>& /*shapes*/,
                          double* /*flops*/, std::string* /*kernel*/) const {}
};

// An Op that keeps its node: most read their inputs' and outputs' indices
// or parameters when they plan or run.
class NodeOp : public Op {
 public:
  explicit NodeOp(const OpInit& init) : graph_(init.graph), node_(init.node) {}
  const Graph& graph_;
  const NodeDesc& node_;
};

// An op's static description. `check` and `output_shapes` throw
// spruce::Error naming the node; the reader calls `check` before anything
// else reads the node's fields.
// Whether an op computes each image of a batch (the first dimension of its
// inputs and outputs) on its own: what lets the engine run a batch image by
// image (EngineOptions::split_batch). The engine also checks each run's
// shapes: every value computed from the inputs must have the batch as its
// first dimension and nothing else depending on it, which catches an op
// that folds the batch into another dimension, reduces over it or moves it.
// kPerImage is for ops that, given that, cannot mix images (elementwise,
// per-image windows, products over the last dimension); kPerImageUnlessAxis0
// for those that mix along their "axis" attribute (Softmax, LayerNorm),
// when it is not 0.
enum class BatchRule : uint8_t { kMixes, kPerImage, kPerImageUnlessAxis0 };

struct OpRule {
  // Inputs, outputs, weights and parameters.
  void (*check)(const Graph& graph, const NodeDesc& node);
  // Output shapes (one per output, empty for an absent one) for input
  // shapes (one per input; -1 marks an unknown dimension and propagates).
  std::vector<Shape> (*output_shapes)(const Graph& graph, const NodeDesc& node,
                                      const std::vector<Shape>& inputs);
  std::unique_ptr<Op> (*create)(const OpInit& init);
  OutputMemory memory = OutputMemory::kOwn;
  // Inputs and outputs may be absent (kNoValue).
  bool optional_values = false;
  BatchRule batch = BatchRule::kMixes;
};

// `rule` with its batch rule set: extern const OpRule kXRule =
// per_image({check, shapes, create_op<X>});
constexpr OpRule per_image(OpRule rule,
                           BatchRule batch = BatchRule::kPerImage) {
  rule.batch = batch;
  return rule;
}

const OpRule& op_rule(OpKind op);

// "Conv node 'name'", for messages.
std::string node_label(const NodeDesc& node);
// `message` led by the node's label unless it already names the node.
std::string labeled(const NodeDesc& node, const std::string& message);
[[noreturn]] void fail_node(const NodeDesc& node, const std::string& message);
// A value in a message: "5", "2.5", "nan" (indices held as float).
std::string number_text(float v);
// Index `v` (held as float) into an axis of `n`, a negative one counting
// from the end; fails naming it and its `position` unless it is an integer
// in [-n, n).
size_t checked_index(const NodeDesc& node, float v, int64_t n,
                     size_t position);

// The common checks: input, output and weight counts, and dense weights.
struct Arity {
  size_t min_inputs = 1, max_inputs = 1;
  size_t outputs = 1;
  size_t min_weights = 0, max_weights = 0;
  bool dense_weights = true;
};
void check_arity(const Graph& graph, const NodeDesc& node, const Arity& arity);

// Shape helpers shared by the shape rules.
int64_t product_or_unknown(const Shape& shape, size_t begin, size_t end);
// The size two tensors agree on for one dimension (-1: unknown).
int64_t same_dim(const NodeDesc& node, int64_t a, int64_t b,
                 const std::string& what);
size_t checked_axis(const NodeDesc& node, int64_t axis, size_t rank);
// Numpy broadcasting of every input.
Shape broadcast_all(const NodeDesc& node, const std::vector<Shape>& inputs);
// [N, C', H', W'] of a window op (Conv, pools) with `channels` outputs on
// NCHW input x.
Shape window_output_shape(const NodeDesc& node, const SpatialParams& p,
                          const Shape& x, int64_t channels);
// The single output has input 0's shape.
std::vector<Shape> same_shape(const Graph& graph, const NodeDesc& node,
                              const std::vector<Shape>& inputs);

// Weight 1 of `node`, when present, is a dense bias of shape [size].
void check_optional_bias(const Graph& graph, const NodeDesc& node,
                         int64_t size);

// "csr", "bsr" or "dense".
const char* storage_name(WeightLayout layout);
// The storage, shape, sparsity and bytes of a Linear's or Conv's weight 0
// (the bytes of all its weights).
void describe_weights(const Graph& graph, const NodeDesc& node,
                      LayerInfo* info);

// An Op of type T made from OpInit (T's constructor takes it).
template <typename T>
std::unique_ptr<Op> create_op(const OpInit& init) {
  return std::make_unique<T>(init);
}

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_OPS_OP_H_
