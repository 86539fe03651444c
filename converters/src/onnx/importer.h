// The ONNX importer's state and its shared steps, used by the import rules
// (rules/*.cc: one file per ONNX op or family, each defining
// Importer::import_<file name> and registering the op types it takes with
// SPRUCE_ONNX_RULE). The build lists the rule files (onnx_rules.inc), so
// adding an ONNX op is adding its file.
//
// The importer walks the graph once in ONNX order (which the standard makes
// topological): constant subgraphs are folded as they appear, supported ops
// become spruce nodes, and bias Add / Relu that follow a Linear are fused into
// it when the Linear's output has no other reader.
//
// Layout ops around an LSTM are not run but folded into it: a Transpose of
// its input (batch_first), the Transpose + Reshape (or Squeeze) that merge
// its directions, a final Transpose back to batch first, and Slices of
// h0/c0. Until a consumer folds them they are pending "views"; a consumer
// that cannot fold one fails naming it. Values computed from tensor shapes
// (Shape → Gather → Concat → ConstantOfShape / Expand, PyTorch's zero
// initial states) are tracked the same way and become absent states.
#ifndef SPRUCE_CONVERTERS_ONNX_IMPORTER_H_
#define SPRUCE_CONVERTERS_ONNX_IMPORTER_H_

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "onnx_util.h"
#include "ops/op.h"
#include "spruce/converters/model_def.h"
#include "spruce/converters/onnx_import.h"
#include "spruce/error.h"

namespace spruce::converters {

class Importer {
 public:
  // One per rule file: Importer::import_<file name>.
#define SPRUCE_ONNX_RULE_FILE(stem) \
  void import_##stem(const onnx::NodeProto& node);
#include "onnx_rules.inc"
#undef SPRUCE_ONNX_RULE_FILE

  Importer(std::string path, const ConvertOptions& options,
           ConversionReport* report)
      : path_(std::move(path)), options_(options), report_(report) {}

  ModelDef run();

  // ------------------------------------------------------------ helpers
  [[noreturn]] void fail(const std::string& message) const;
  [[noreturn]] void fail(const onnx::NodeProto& node,
                         const std::string& message) const;

  static std::string basename(const std::string& path);

  void count_readers(const std::vector<onnx::NodeProto>& nodes,
                     const onnx::GraphProto& graph);

  bool is_constant(const std::string& name) const;
  // The element type the model gives tensor `name` (all are held as float;
  // rules whose integer results differ from float ones ask this).
  DataType dtype_of(const std::string& name) const;

  const Constant& constant(const onnx::NodeProto& node,
                           const std::string& name) const;

  uint32_t value_of(const onnx::NodeProto& node, const std::string& name);

  uint32_t add_value(const std::string& name, Shape shape);

  static int64_t attr_int(const onnx::NodeProto& node, const std::string& name,
                          int64_t fallback);
  static float attr_float(const onnx::NodeProto& node, const std::string& name,
                          float fallback);
  static const onnx::AttributeProto* attr(const onnx::NodeProto& node,
                                          const std::string& name);

  // ------------------------------------------------------------ graph ends
  void freeze_inputs(const onnx::GraphProto& graph);

  void read_inputs(const onnx::GraphProto& graph);

  void read_outputs(const onnx::GraphProto& graph);

  // `value` as the model output `name`. An output keeps its declared name
  // whatever it aliases (an Identity of an input or of another output, a
  // reshape that imports as no node): those get a copy of their own under
  // that name (a Reshape keeping every dimension, which costs no copy at
  // run time).
  uint32_t named_output(const std::string& name, uint32_t value);

  // ------------------------------------------------------------ nodes
  void import_node(const onnx::NodeProto& node, int index);

  // Folds a node whose inputs are all constants. Returns false if any input
  // is an activation.
  bool try_fold(const onnx::NodeProto& node);
  bool fuse_gated_activation(const onnx::NodeProto& node);
  void restore_broadcast_shape(const onnx::NodeProto& node);

  static bool ends_with(const std::string& s, const std::string& suffix);

  Constant cast(const onnx::NodeProto& node, const Constant& in) const;

  // A Linear node y = x · W^T + b with W [out, in] (row-major copy given).
  void add_linear(const onnx::NodeProto& node, uint32_t x, std::vector<float> w,
                  int64_t out, int64_t in, const std::string& weight_name);

  std::string weight_name(const std::string& tensor) const;

  void set_bias(const onnx::NodeProto& node, NodeDef* linear, const Constant& c,
                float scale, const std::string& name);

  bool is_constant_2d(const std::string& name) const;
  void gemm_of_activations(const onnx::NodeProto& node);
  void gather_along_axis(const onnx::NodeProto& node);

  // The node that produced `tensor` if it is one of `ops` and its result may
  // be rewritten in place (this is its only reader and not a model output).
  NodeDef* fusable_producer(const std::string& tensor,
                            std::initializer_list<OpKind> ops);
  NodeDef* fusable_linear(const std::string& tensor);
  // Add(conv(x), r) as the Conv's residual input; false if it does not fit.
  bool fuse_residual_add(const onnx::NodeProto& node);
  // Where a following Relu or Clip(0, 6) can be fused.
  NodeDef* fusable_activation_target(const std::string& tensor);

  // Renames the fused node's output to the consumer's output.
  void take_over_output(NodeDef* n, const std::string& new_name);

  // ------------------------------------------------------------ CNN ops
  // A node of `op` over the node's activation inputs, output shape from the
  // runtime's rules for elementwise ops (same shape, or broadcast for Add).
  void add_node(const onnx::NodeProto& node, OpKind op);

  // kernel_shape, strides, pads, dilations and auto_pad of a 2-D Conv or
  // pool on input `xs` (NCHW).
  SpatialParams spatial_params(const onnx::NodeProto& node, const Shape& xs,
                               const Shape& kernel) const;

  Shape window_output(const onnx::NodeProto& node, const Shape& xs,
                      int64_t channels, const SpatialParams& p) const;

  void add_conv(const onnx::NodeProto& node, uint32_t x, const SpatialParams& p,
                Shape w_shape, std::vector<float> w, std::vector<float> bias,
                const std::string& name);

  // ------------------------------------------------------------ views
  // A tensor ONNX computes that spruce does not materialize: see the top of
  // this file.
  struct View {
    enum class Kind : uint8_t {
      kTranspose,
      kSlice,
      kZeros,
      kShapeValue,
      kBroadcastRow,  // row 0 of an embedding table, looked up by zeros
    };
    Kind kind = Kind::kZeros;
    uint32_t source = 0;        // kTranspose, kSlice: the value viewed
    std::vector<int64_t> perm;  // kTranspose
    int64_t start = 0;          // kSlice: rows [start, end) of axis 0
    int64_t end = 0;
    std::string node;  // the ONNX node that made it
    // kShapeValue: the integers (sizes <= -2 are symbolic, -1 unknown);
    // kZeros, kBroadcastRow: the shape. Valid if sym_known.
    std::vector<int64_t> sym;
    bool sym_known = false;
    bool scalar = false;     // kShapeValue of rank 0
    std::vector<float> row;  // kBroadcastRow
  };

  std::string describe(const View& v) const;
  // Whether a shape value's integers (or zeros' shape) are all known at
  // conversion: no symbolic or unknown size.
  static bool all_sizes_known(const View& v);

  const View* view(const std::string& name) const;
  bool is_view(const std::string& name, View::Kind kind) const;

  View& add_view(const onnx::NodeProto& node, View::Kind kind);

  // Attribute `name` (else `fallback`) as an axis of a tensor of `rank`
  // dimensions, negative ones counted from the end; fails naming the input
  // `shape` when out of range.
  int64_t axis_attr(const onnx::NodeProto& node, const std::string& name,
                    int64_t fallback, const Shape& shape) const;
  static std::vector<int64_t> attr_ints(const onnx::NodeProto& node,
                                        const std::string& name);

  // An integer list given as a constant input (newer opsets) or, when that
  // input is absent, as an attribute (older ones).
  std::vector<int64_t> ints_input_or_attr(const onnx::NodeProto& node,
                                          int input,
                                          const std::string& name) const;

  bool all_zero(const Constant& c) const;

  // The shape of a tensor by name, whatever holds it.
  std::optional<Shape> shape_of(const std::string& name) const;
  // A 1-D window op (Conv, MaxPool, AveragePool on [N, C, L]) imported as
  // its 2-D form on [N, C, 1, L] by `import_2d`, with Reshapes around it;
  // false when the op is not 1-D.
  bool import_1d_as_2d(const onnx::NodeProto& node,
                       void (Importer::*import_2d)(const onnx::NodeProto&));

  // The integers a constant or a shape value holds, if known.
  std::optional<std::vector<int64_t>> int_values(const std::string& name,
                                                 bool* scalar = nullptr) const;

  // Evaluates shape arithmetic (Gather, Unsqueeze, Squeeze, Concat, Cast,
  // Slice, elementwise on known sizes) on integer vectors; leaves `out`
  // unknown when it cannot.
  void evaluate_shape_op(const onnx::NodeProto& node, View* out) const;

  bool track_shape_values(const onnx::NodeProto& node);

  // The recurrent layer whose Y is `name`, if `name` has no other reader.
  NodeDef* sole_recurrent_y(const std::string& name);

  void rename_value(uint32_t id, const std::string& new_name);

  // Slice of any tensor; ends computed from a dynamic size (PyTorch's
  // position_ids[:, :seq_len]) end at that dimension of a value holding it.
  void import_general_slice(const onnx::NodeProto& node);

  // ------------------------------------------------------------ tensor ops
  // `name` as an activation: a value, a materialized view, or a constant
  // made into a Constant node (once per constant).
  uint32_t operand(const onnx::NodeProto& node, const std::string& name);

  // Turns a view into a node when a general op reads it.
  std::optional<uint32_t> materialize(const onnx::NodeProto& consumer,
                                      const std::string& name, View v);

  void add_simple(const onnx::NodeProto& node, NodeDef n, Shape shape);

  Shape broadcast_or_fail(const onnx::NodeProto& node,
                          const std::vector<uint32_t>& inputs) const;

  std::vector<int64_t> normalized_axes(const onnx::NodeProto& node,
                                       std::vector<int64_t> axes,
                                       size_t rank) const;

  // a · b for sizes known so far (-1 once either is unknown); a product past
  // 2^62 is refused rather than overflowing (a hostile shape).
  int64_t known_product(const onnx::NodeProto& node, int64_t a,
                        int64_t b) const;

  // LayerNormalization's optional outputs Mean and InvStdDev, when the graph
  // reads them, built from ops spruce has: ReduceMean(X) over the normalized
  // axes, and 1 / sqrt(ReduceMean((X - Mean)²) + epsilon).
  void layer_norm_statistics(const onnx::NodeProto& node, uint32_t x,
                             size_t axis, float epsilon);

  // Reshape, Squeeze, Unsqueeze as a runtime Reshape whose dynamic sizes are
  // copied from the input: entries <= -2 copy input dimension -d - 2.
  void reshape_any(const onnx::NodeProto& node);

  // Sizes `dims` whose symbolic entries (<= -2) are dynamic sizes of one
  // model input, rewritten as copies of that input's dimensions (-2 - d, as
  // Reshape and Expand read them); returns that input, or kNoValue when no
  // entry is symbolic. Fails naming `node` for a size traced to no input,
  // to two inputs, or unknown (-1).
  uint32_t symbols_as_dims(const onnx::NodeProto& node,
                           std::vector<int64_t>* dims) const;

  // Reshape / Squeeze / Unsqueeze of a constant.
  bool fold_reshape(const onnx::NodeProto& node);

  // ------------------------------------------------------------ LSTM, GRU, RNN
  // An initial state: absent (not given, zeros) or a value read from row
  // `offset` on.
  struct StateInput {
    uint32_t value = kNoValue;
    int64_t offset = 0;
  };

  StateInput initial_state(const onnx::NodeProto& node, int input,
                           uint32_t dirs);

  // ONNX W [dirs, G·H, in] (or R [dirs, G·H, H]): checked before it is cut
  // into weights per direction.
  void check_recurrent_weight(const onnx::NodeProto& node, const Constant& c,
                              const char* what, int64_t dirs,
                              int64_t rows) const;

  uint32_t add_weight(const std::string& name, Shape shape,
                      std::vector<float> data);

  // ------------------------------------------------------------ formats
  // Each matrix of a Linear, Conv or recurrent layer gets its format; a
  // bias is counted with the matrix before it.
  void choose_formats();

  // ------------------------------------------------------------ folding
  // Nodes from `first` on whose inputs are all Constant nodes' outputs are
  // run by the runtime's own op (evaluate.h) and become Constant nodes, their
  // results constants for the rules after them.
  void fold_constant_nodes(size_t first);
  // Drops nodes no output depends on, then weights and values nothing
  // refers to (what folding and fusion leave behind).
  void remove_unused();

  void choose_format(const std::string& node, uint32_t matrix,
                     const std::vector<uint32_t>& biases);

  // The BSR form of a weight, per ConvertOptions' block settings; none when
  // the weight should not be stored BSR.
  std::optional<BsrMatrix> block_format(const float* dense, size_t rows,
                                        size_t cols,
                                        const CsrMatrix& csr) const;

  std::string path_;
  ConvertOptions options_;
  ConversionReport* report_;
  ModelDef model_;
  std::unordered_map<std::string, Constant> constants_;
  std::unordered_map<std::string, uint32_t> values_;
  std::unordered_map<std::string, int> readers_;
  std::unordered_map<std::string, std::string> weight_names_;
  std::unordered_map<std::string, View> views_;
  // Outputs of Constant nodes → their weight.
  std::unordered_map<uint32_t, uint32_t> constant_weight_of_;
  std::unordered_map<uint32_t, size_t> recurrent_of_y_;  // Y value → node index
  int64_t opset_ = 13;
  // Dynamic input sizes by name (dim_param) → their symbol (<= -2), and
  // where each symbol first appears (value, dimension).
  std::map<std::string, int64_t> symbols_;
  // Element types of the tensors imported so far, by ONNX name (constants
  // carry their own).
  std::unordered_map<std::string, DataType> dtypes_;
  // Sizes computed from dynamic ones (see evaluate_shape_op): symbols with
  // no input dimension behind them, far below the inputs' symbols.
  int64_t fresh_symbol() const;
  mutable int64_t next_fresh_symbol_ = -(int64_t{1} << 40);
  // A size that is a symbol times a constant (Swin's batch × windows,
  // divided back by the windows): one symbol per (symbol, factor), so that
  // equal products are equal and a division by a factor gives the symbol.
  int64_t scaled_symbol(int64_t symbol, int64_t factor) const;
  // A symbol as (base symbol, factor): (s, 1) unless made by scaled_symbol.
  std::pair<int64_t, int64_t> symbol_factor(int64_t symbol) const;
  mutable std::map<int64_t, std::pair<int64_t, int64_t>> scaled_;
  mutable std::map<std::pair<int64_t, int64_t>, int64_t> scaled_ids_;
  std::map<int64_t, std::pair<uint32_t, size_t>> symbol_origin_;
};

// The epilogue activation that is the unary function `op` with these
// parameters, if the kernels have one (Sigmoid, Tanh, HardSwish, PyTorch's
// HardSigmoid).
std::optional<kernels::Activation> epilogue_activation(UnaryOp op, float alpha,
                                                       float beta);

// One import rule: the op types it takes and how.
struct ImportRule {
  enum Flags : unsigned {
    kNone = 0,
    kEmptyInputs = 1,         // optional inputs may be absent ("")
    kUnnamedFirstOutput = 2,  // output 0 may be absent (LSTM's Y)
    kBeforeFolding = 4,       // runs before shape tracking and folding
    kElementwise = 8,  // output shape: the inputs' broadcast (a scalar's is {})
  };
  void (Importer::*import)(const onnx::NodeProto& node);
  std::vector<std::string> op_types;
  unsigned flags = kNone;
  // Inputs that must be constants (weights, sizes): ONNX's node tests pass
  // them as graph inputs, which the conformance test freezes.
  std::vector<int> weight_inputs;

  bool empty_inputs() const { return (flags & kEmptyInputs) != 0; }
  bool unnamed_first_output() const {
    return (flags & kUnnamedFirstOutput) != 0;
  }
  bool before_folding() const { return (flags & kBeforeFolding) != 0; }
  bool elementwise() const { return (flags & kElementwise) != 0; }
};

// The rule for an ONNX op type (standard domain), or null.
const ImportRule* import_rule(const std::string& op_type);
// Every op type some rule takes, sorted.
const std::vector<std::string>& imported_op_types();

// In a rule file, after Importer::import_<stem>:
//   SPRUCE_ONNX_RULE(stem, {"OpType", ...}, flags, /*weight_inputs=*/{...});
#define SPRUCE_ONNX_RULE(stem, ...) \
  extern const ImportRule kImportRule_##stem{&Importer::import_##stem, __VA_ARGS__}

}  // namespace spruce::converters

#endif  // SPRUCE_CONVERTERS_ONNX_IMPORTER_H_
