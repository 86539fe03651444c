// ONNX importer. Walks the graph once in ONNX order (which the standard makes
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
#include "spruce/converters/onnx_import.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "onnx_fusion.h"
#include "onnx_util.h"
#include "spruce/error.h"
#include "spruce/version.h"

namespace spruce::converters {
namespace {

constexpr size_t kMaxOnnxBytes = size_t{2} << 30;  // protobuf's own limit

// Every op type Importer::import_node dispatches (standard domain).
const std::set<std::string>& supported_ops() {
  static const std::set<std::string> ops = {"Abs",
                                            "Add",
                                            "AveragePool",
                                            "BatchNormalization",
                                            "Cast",
                                            "Clip",
                                            "Concat",
                                            "Constant",
                                            "ConstantOfShape",
                                            "Conv",
                                            "Div",
                                            "Equal",
                                            "Erf",
                                            "Exp",
                                            "Expand",
                                            "Flatten",
                                            "Gather",
                                            "Gelu",
                                            "Gemm",
                                            "GlobalAveragePool",
                                            "Identity",
                                            "LayerNormalization",
                                            "LSTM",
                                            "MatMul",
                                            "MaxPool",
                                            "Mul",
                                            "Neg",
                                            "Pad",
                                            "Pow",
                                            "Reciprocal",
                                            "ReduceMean",
                                            "Relu",
                                            "Reshape",
                                            "Shape",
                                            "Sigmoid",
                                            "Slice",
                                            "Softmax",
                                            "Split",
                                            "Sqrt",
                                            "Squeeze",
                                            "Sub",
                                            "Tanh",
                                            "Transpose",
                                            "Unsqueeze",
                                            "Where"};
  return ops;
}

onnx::ModelProto read_onnx_model(const std::string& path) {
  const std::string bytes = read_file_bytes(path, kMaxOnnxBytes);
  onnx::ModelProto model;
  if (bytes.empty() || !model.ParseFromString(bytes) || !model.has_graph() ||
      model.graph().output_size() == 0) {
    throw Error(path + ": not an ONNX model (no graph could be read)");
  }
  return model;
}

class Importer {
 public:
  Importer(std::string path, const ConvertOptions& options,
           ConversionReport* report)
      : path_(std::move(path)), options_(options), report_(report) {}

  ModelDef run() {
    const std::string bytes = read_file_bytes(path_, kMaxOnnxBytes);
    report_->onnx_file_bytes = bytes.size();
    onnx::ModelProto model;
    if (bytes.empty() || !model.ParseFromString(bytes) || !model.has_graph() ||
        model.graph().output_size() == 0) {
      throw Error(path_ + ": not an ONNX model (no graph could be read)");
    }
    const onnx::GraphProto& graph = model.graph();
    model_.metadata.emplace_back("source", basename(path_));
    if (!model.producer_name().empty()) {
      model_.metadata.emplace_back(
          "source_producer",
          model.producer_name() + " " + model.producer_version());
    }
    for (const auto& opset : model.opset_import()) {
      if (opset.domain().empty() || opset.domain() == "ai.onnx") {
        opset_ = opset.version();
        model_.metadata.emplace_back("source_opset",
                                     std::to_string(opset.version()));
      }
    }

    for (const onnx::TensorProto& init : graph.initializer()) {
      constants_[init.name()] = constant_from_proto(
          init, path_ + ": initializer '" + init.name() + "'");
    }
    freeze_inputs(graph);
    std::vector<std::string> fusions;
    const std::vector<onnx::NodeProto> nodes =
        fuse_patterns(graph, &constants_, &fusions);
    report_->folded.insert(report_->folded.end(), fusions.begin(),
                           fusions.end());
    count_readers(nodes, graph);
    read_inputs(graph);
    for (size_t i = 0; i < nodes.size(); ++i) {
      import_node(nodes[i], static_cast<int>(i));
    }
    read_outputs(graph);
    choose_formats();
    // Symbolic sizes (dynamic dimensions told apart while importing) are
    // stored as -1: the runtime learns them from the inputs.
    for (ValueDef& v : model_.values) {
      for (int64_t& d : v.shape) d = d < 0 ? -1 : d;
    }
    return std::move(model_);
  }

 private:
  // ------------------------------------------------------------ helpers
  [[noreturn]] void fail(const std::string& message) const {
    throw Error(path_ + ": " + message);
  }
  [[noreturn]] void fail(const onnx::NodeProto& node,
                         const std::string& message) const {
    fail(node.op_type() + " node '" + node.name() + "': " + message);
  }

  static std::string basename(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
  }

  void count_readers(const std::vector<onnx::NodeProto>& nodes,
                     const onnx::GraphProto& graph) {
    for (const onnx::NodeProto& node : nodes) {
      for (const std::string& in : node.input()) ++readers_[in];
    }
    for (const onnx::ValueInfoProto& out : graph.output())
      ++readers_[out.name()];
  }

  bool is_constant(const std::string& name) const {
    return constants_.count(name) != 0;
  }

  const Constant& constant(const onnx::NodeProto& node,
                           const std::string& name) const {
    const auto it = constants_.find(name);
    if (it == constants_.end()) {
      fail(node, "input '" + name + "' must be a constant (an initializer)");
    }
    return it->second;
  }

  uint32_t value_of(const onnx::NodeProto& node, const std::string& name) {
    const auto it = values_.find(name);
    if (it == values_.end()) {
      const auto view = views_.find(name);
      if (view != views_.end()) {
        if (std::optional<uint32_t> v = materialize(node, name, view->second)) {
          return *v;
        }
        fail(node, "input '" + name + "' is " + describe(view->second) +
                       "; spruce folds such tensors only where they shape "
                       "another op (an LSTM's state, a Reshape, a Slice)");
      }
      if (is_constant(name)) {
        fail(node, "input '" + name +
                       "' is a constant where spruce expects "
                       "an activation");
      }
      fail(node, "input '" + name + "' is not computed by any earlier node");
    }
    return it->second;
  }

  uint32_t add_value(const std::string& name, Shape shape) {
    model_.values.push_back({name, std::move(shape)});
    const auto id = static_cast<uint32_t>(model_.values.size() - 1);
    values_[name] = id;
    return id;
  }

  static int64_t attr_int(const onnx::NodeProto& node, const std::string& name,
                          int64_t fallback) {
    for (const auto& a : node.attribute()) {
      if (a.name() == name) return a.i();
    }
    return fallback;
  }
  static float attr_float(const onnx::NodeProto& node, const std::string& name,
                          float fallback) {
    for (const auto& a : node.attribute()) {
      if (a.name() == name) return a.f();
    }
    return fallback;
  }
  static const onnx::AttributeProto* attr(const onnx::NodeProto& node,
                                          const std::string& name) {
    for (const auto& a : node.attribute()) {
      if (a.name() == name) return &a;
    }
    return nullptr;
  }

  // ------------------------------------------------------------ graph ends
  void freeze_inputs(const onnx::GraphProto& graph) {
    for (const auto& frozen : options_.constant_inputs) {
      // Named, not a structured binding: lambdas may not capture those in
      // C++17 (clang refuses).
      const std::string& name = frozen.first;
      const std::string& file = frozen.second;
      const bool is_input = std::any_of(
          graph.input().begin(), graph.input().end(),
          [&](const onnx::ValueInfoProto& in) { return in.name() == name; });
      if (!is_input) fail("cannot freeze '" + name + "': not a graph input");
      onnx::TensorProto proto;
      const std::string bytes = read_file_bytes(file, kMaxOnnxBytes);
      if (!proto.ParseFromString(bytes)) {
        fail(file + ": not a serialized ONNX TensorProto");
      }
      constants_[name] = constant_from_proto(proto, file);
    }
  }

  void read_inputs(const onnx::GraphProto& graph) {
    for (const onnx::ValueInfoProto& in : graph.input()) {
      if (is_constant(in.name())) continue;  // initializers listed as inputs
      const auto& type = in.type();
      const int elem =
          type.has_tensor_type() ? type.tensor_type().elem_type() : 0;
      if (elem != onnx::TensorProto::FLOAT &&
          elem != onnx::TensorProto::INT64) {
        fail("input '" + in.name() + "' is " +
             (type.has_tensor_type() ? "of data type " + onnx_type_name(elem)
                                     : std::string("not a tensor")) +
             "; spruce takes float32 and int64 inputs");
      }
      Shape shape;
      const uint32_t id = static_cast<uint32_t>(model_.values.size());
      for (const auto& dim : type.tensor_type().shape().dim()) {
        if (dim.has_dim_value() && dim.dim_value() > 0) {
          shape.push_back(dim.dim_value());
          continue;
        }
        // A dynamic size: the same symbol wherever the same name appears.
        const std::string symbol =
            dim.dim_param().empty()
                ? in.name() + ":" + std::to_string(shape.size())
                : dim.dim_param();
        auto it = symbols_.find(symbol);
        if (it == symbols_.end()) {
          it = symbols_
                   .emplace(symbol, -2 - static_cast<int64_t>(symbols_.size()))
                   .first;
          symbol_origin_[it->second] = {id, shape.size()};
        }
        shape.push_back(it->second);
      }
      model_.inputs.push_back(add_value(in.name(), shape));
      if (elem == onnx::TensorProto::INT64) {
        model_.values.back().dtype = DataType::kInt64;
      }
    }
    if (model_.inputs.empty()) fail("model has no non-constant inputs");
  }

  void read_outputs(const onnx::GraphProto& graph) {
    for (const onnx::ValueInfoProto& out : graph.output()) {
      if (views_.count(out.name()) != 0) {
        onnx::NodeProto consumer;
        consumer.set_name("graph output");
        if (materialize(consumer, out.name(), views_.at(out.name()))) {
          model_.outputs.push_back(
              named_output(out.name(), values_.at(out.name())));
          continue;
        }
      }
      const auto it = values_.find(out.name());
      if (const View* v = view(out.name())) {
        fail("output '" + out.name() + "' is " + describe(*v) +
             ", which spruce cannot produce as a model output");
      }
      if (it == values_.end()) {
        fail("output '" + out.name() + "' is " +
             (is_constant(out.name()) ? "a constant" : "never computed") +
             "; spruce needs outputs computed from the inputs");
      }
      model_.outputs.push_back(named_output(out.name(), it->second));
    }
  }

  // `value` as the model output `name`. An output keeps its declared name
  // whatever it aliases (an Identity of an input or of another output, a
  // reshape that imports as no node): those get a copy of their own under
  // that name (a Reshape keeping every dimension, which costs no copy at
  // run time).
  uint32_t named_output(const std::string& name, uint32_t value) {
    const bool is_input = std::find(model_.inputs.begin(), model_.inputs.end(),
                                    value) != model_.inputs.end();
    const bool is_output = std::find(model_.outputs.begin(),
                                     model_.outputs.end(),
                                     value) != model_.outputs.end();
    if (model_.values[value].name == name && !is_input && !is_output) {
      return value;
    }
    const ValueDef source = model_.values[value];
    NodeDef n;
    n.name = "output " + name;
    n.op = OpKind::kReshape;
    n.inputs = {value};
    std::vector<int64_t> copy_dims;
    for (size_t d = 0; d < source.shape.size(); ++d) {
      copy_dims.push_back(-2 - static_cast<int64_t>(d));  // copy dimension d
    }
    n.attrs.set_ints("shape", std::move(copy_dims));
    const uint32_t copy = add_value(name, source.shape);  // outputs are float
    n.outputs = {copy};
    model_.nodes.push_back(std::move(n));
    return copy;
  }

  // ------------------------------------------------------------ nodes
  void import_node(const onnx::NodeProto& node, int index) {
    onnx::NodeProto named = node;
    if (named.name().empty()) {
      named.set_name(node.op_type() + "_" + std::to_string(index));
    }
    if (!node.domain().empty() && node.domain() != "ai.onnx") {
      fail(named, "operator domain '" + node.domain() + "' is not supported");
    }
    const std::string& op = node.op_type();
    // Only LSTM may leave its first output (Y) unnamed.
    if (node.output_size() < 1 || (node.output(0).empty() && op != "LSTM")) {
      fail(named, "has no output");
    }
    for (const std::string& in : node.input()) {
      if (in.empty() && op != "Gemm" && op != "LSTM" && op != "Slice" &&
          op != "Clip" && op != "Conv" && op != "Pad" &&
          op != "LayerNormalization" && op != "Split") {
        fail(named, "optional (empty) inputs are not supported here");
      }
    }
    if (op == "Constant") return import_constant(named);
    if (track_shape_values(named)) return;
    if (try_fold(named)) return;
    if (op == "LSTM") return import_lstm(named);
    if (op == "Transpose") return import_transpose(named);
    if (op == "Reshape" || op == "Squeeze") return import_merge(named);
    if (op == "Unsqueeze") return import_reshape(named);
    if (op == "Slice") return import_slice(named);
    if (op == "Concat") return import_concat(named);
    if (op == "Gemm") return import_gemm(named);
    if (op == "MatMul") return import_matmul(named);
    if (op == "Add") return import_add(named);
    if (op == "Sub" || op == "Mul" || op == "Div" || op == "Pow" ||
        op == "Equal") {
      return import_binary(named);
    }
    if (op == "Sqrt" || op == "Erf" || op == "Tanh" || op == "Exp" ||
        op == "Sigmoid" || op == "Neg" || op == "Abs" || op == "Reciprocal" ||
        op == "Gelu") {
      return import_unary(named);
    }
    if (op == "Cast") return import_cast(named);
    if (op == "Gather") return import_gather(named);
    if (op == "ReduceMean") return import_reduce_mean(named);
    if (op == "LayerNormalization") return import_layer_norm(named);
    if (op == "Softmax") return import_softmax(named);
    if (op == "Where") return import_where(named);
    if (op == "Split") return import_split(named);
    if (op == "Expand") return import_expand(named);
    if (op == "Relu") return import_relu(named);
    if (op == "Clip") return import_clip(named);
    if (op == "Conv") return import_conv(named);
    if (op == "BatchNormalization") return import_batchnorm(named);
    if (op == "MaxPool" || op == "AveragePool") return import_pool(named);
    if (op == "GlobalAveragePool") return import_global_average_pool(named);
    if (op == "Flatten") return import_flatten(named);
    if (op == "Pad") return import_pad(named);
    if (op == "Identity") {
      if (node.input_size() != 1) fail(named, "needs 1 input");
      values_[node.output(0)] = value_of(named, node.input(0));
      return;
    }
    fail(named, "unsupported op '" + op + "'");
  }

  void import_constant(const onnx::NodeProto& node) {
    const onnx::AttributeProto* value = attr(node, "value");
    const onnx::AttributeProto* value_float = attr(node, "value_float");
    const onnx::AttributeProto* value_floats = attr(node, "value_floats");
    Constant c;
    if (value != nullptr) {
      c = constant_from_proto(value->t(),
                              path_ + ": Constant '" + node.name() + "'");
    } else if (value_float != nullptr) {
      c.f = {value_float->f()};
    } else if (value_floats != nullptr) {
      c.f.assign(value_floats->floats().begin(), value_floats->floats().end());
      c.shape = {static_cast<int64_t>(c.f.size())};
    } else {
      fail(node, "only value, value_float and value_floats are supported");
    }
    constants_[node.output(0)] = std::move(c);
  }

  // Folds a node whose inputs are all constants. Returns false if any input
  // is an activation.
  bool try_fold(const onnx::NodeProto& node) {
    if (node.input_size() == 0) return false;
    for (const std::string& in : node.input()) {
      if (!in.empty() && !is_constant(in)) return false;
    }
    const std::string& op = node.op_type();
    const bool binary =
        op == "Mul" || op == "Add" || op == "Sub" || op == "Div";
    if (op == "Reshape" || op == "Unsqueeze" || op == "Squeeze") {
      return fold_reshape(node);
    }
    if (!binary && op != "Identity" && op != "Cast" && op != "Transpose") {
      return false;  // imported as an op on Constant nodes
    }
    if (op == "Transpose" && constants_.at(node.input(0)).shape.size() != 2) {
      return false;
    }
    if (node.input_size() != (binary ? 2 : 1)) {
      fail(node, "expected " + std::to_string(binary ? 2 : 1) +
                     " inputs, has " + std::to_string(node.input_size()));
    }
    Constant result;
    if (op == "Identity") {
      result = constants_.at(node.input(0));
    } else if (op == "Cast") {
      result = cast(node, constants_.at(node.input(0)));
    } else if (op == "Transpose") {
      result = transpose_2d(node, constants_.at(node.input(0)));
    } else {
      result = elementwise(node, constants_.at(node.input(0)),
                           constants_.at(node.input(1)));
    }
    std::string note = "folded " + op + " '" + node.name() + "'";
    if (op == "Mul" && (ends_with(node.input(0), "_orig") ||
                        ends_with(node.input(1), "_orig"))) {
      note += " (pruning mask " + node.input(0) + " * " + node.input(1) + ")";
      const std::string& orig =
          ends_with(node.input(0), "_orig") ? node.input(0) : node.input(1);
      weight_names_[node.output(0)] = orig.substr(0, orig.size() - 5);
    }
    report_->folded.push_back(note);
    constants_[node.output(0)] = std::move(result);
    return true;
  }

  static bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  }

  Constant cast(const onnx::NodeProto& node, const Constant& in) const {
    const int64_t to = attr_int(node, "to", 0);
    Constant out = in;
    if (to == onnx::TensorProto::FLOAT) {
      if (!in.is_float) {
        out.is_float = true;
        out.f.assign(in.i.begin(), in.i.end());
        out.i.clear();
      }
    } else if (!(to == onnx::TensorProto::INT64 && !in.is_float)) {
      fail(node, "constant Cast to " + onnx_type_name(static_cast<int>(to)) +
                     " is not supported");
    }
    return out;
  }

  Constant transpose_2d(const onnx::NodeProto& node, const Constant& in) const {
    if (in.shape.size() != 2 || !in.is_float) {
      fail(node, "only 2-D float constants can be transposed at conversion");
    }
    const onnx::AttributeProto* perm = attr(node, "perm");
    if (perm != nullptr &&
        !(perm->ints_size() == 2 && perm->ints(0) == 1 && perm->ints(1) == 0)) {
      fail(node, "perm must be [1, 0] for a 2-D constant");
    }
    const auto rows = static_cast<size_t>(in.shape[0]);
    const auto cols = static_cast<size_t>(in.shape[1]);
    Constant out;
    out.shape = {in.shape[1], in.shape[0]};
    out.f.resize(in.f.size());
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < cols; ++c)
        out.f[c * rows + r] = in.f[r * cols + c];
    }
    return out;
  }

  Constant elementwise(const onnx::NodeProto& node, const Constant& a,
                       const Constant& b) const {
    if (!a.is_float || !b.is_float) {
      fail(node, "only float32 constants are folded");
    }
    const bool a_scalar = a.f.size() == 1;
    const bool b_scalar = b.f.size() == 1;
    if (a.shape != b.shape && !a_scalar && !b_scalar) {
      fail(node, "cannot fold shapes " + to_string(a.shape) + " and " +
                     to_string(b.shape) + " (only equal shapes or a scalar)");
    }
    Constant out;
    out.shape = a_scalar && !b_scalar ? b.shape : a.shape;
    const size_t n = std::max(a.f.size(), b.f.size());
    out.f.resize(n);
    const std::string& op = node.op_type();
    for (size_t k = 0; k < n; ++k) {
      const float x = a.f[a_scalar ? 0 : k];
      const float y = b.f[b_scalar ? 0 : k];
      out.f[k] = op == "Mul"   ? x * y
                 : op == "Add" ? x + y
                 : op == "Sub" ? x - y
                               : x / y;
    }
    return out;
  }

  // A Linear node y = x · W^T + b with W [out, in] (row-major copy given).
  void add_linear(const onnx::NodeProto& node, uint32_t x, std::vector<float> w,
                  int64_t out, int64_t in, const std::string& weight_name) {
    const Shape& xs = model_.values[x].shape;
    if (xs.empty() || (xs.back() >= 0 && xs.back() != in)) {
      fail(node, "input '" + model_.values[x].name + "' of shape " +
                     to_string(xs) + " does not match weight [" +
                     std::to_string(out) + ", " + std::to_string(in) + "]");
    }
    WeightDef weight;
    weight.name = weight_name;
    weight.shape = {out, in};
    weight.dense = std::move(w);
    model_.weights.push_back(std::move(weight));

    NodeDef n;
    n.name = node.name();
    n.op = OpKind::kLinear;
    n.inputs = {x};
    n.weights = {static_cast<uint32_t>(model_.weights.size() - 1)};
    Shape ys = xs;
    ys.back() = out;
    n.outputs = {add_value(node.output(0), ys)};
    model_.nodes.push_back(std::move(n));
  }

  std::string weight_name(const std::string& tensor) const {
    const auto it = weight_names_.find(tensor);
    return it != weight_names_.end() ? it->second : tensor;
  }

  void set_bias(const onnx::NodeProto& node, NodeDef* linear, const Constant& c,
                float scale, const std::string& name) {
    const int64_t out = model_.weights[linear->weights[0]].shape[0];
    // Bias broadcast over everything but the last dimension: [out], [1, out],
    // or a scalar.
    const bool per_feature = !c.shape.empty() && c.shape.back() == out &&
                             static_cast<int64_t>(c.f.size()) == out;
    if (!c.is_float || (!per_feature && c.f.size() != 1)) {
      fail(node, "bias of shape " + to_string(c.shape) +
                     " is not a per-feature vector of " + std::to_string(out));
    }
    WeightDef bias;
    bias.name = name;
    bias.shape = {out};
    bias.dense.resize(static_cast<size_t>(out));
    for (int64_t k = 0; k < out; ++k) {
      bias.dense[k] = scale * c.f[per_feature ? k : 0];
    }
    model_.weights.push_back(std::move(bias));
    linear->weights.push_back(static_cast<uint32_t>(model_.weights.size() - 1));
  }

  void import_gemm(const onnx::NodeProto& node) {
    if (node.input_size() < 2) fail(node, "needs inputs A and B");
    if (attr_int(node, "transA", 0) != 0) {
      fail(node, "transA=1 is not supported");
    }
    const uint32_t x = value_of(node, node.input(0));
    if (model_.values[x].shape.size() != 2) {
      fail(node,
           "input A must be 2-D, is " + to_string(model_.values[x].shape));
    }
    const Constant& b = constant(node, node.input(1));
    if (b.shape.size() != 2 || !b.is_float) {
      fail(node, "weight B must be a 2-D float constant");
    }
    const float alpha = attr_float(node, "alpha", 1.0f);
    const float beta = attr_float(node, "beta", 1.0f);
    const bool trans_b = attr_int(node, "transB", 0) != 0;
    const int64_t out = trans_b ? b.shape[0] : b.shape[1];
    const int64_t in = trans_b ? b.shape[1] : b.shape[0];
    std::vector<float> w(b.f.size());
    for (int64_t o = 0; o < out; ++o) {
      for (int64_t i = 0; i < in; ++i) {
        const float v = trans_b ? b.f[o * in + i] : b.f[i * out + o];
        w[o * in + i] = alpha * v;
      }
    }
    add_linear(node, x, std::move(w), out, in, weight_name(node.input(1)));
    if (node.input_size() > 2 && !node.input(2).empty()) {
      set_bias(node, &model_.nodes.back(), constant(node, node.input(2)), beta,
               weight_name(node.input(2)));
    }
  }

  bool is_constant_2d(const std::string& name) const {
    return is_constant(name) && constants_.at(name).shape.size() == 2 &&
           constants_.at(name).is_float;
  }

  void import_matmul(const onnx::NodeProto& node) {
    if (node.input_size() != 2) fail(node, "needs 2 inputs");
    const bool activation_x =
        values_.count(node.input(0)) != 0 || views_.count(node.input(0)) != 0;
    if (!is_constant_2d(node.input(1)) || !activation_x) {
      NodeDef n;
      n.op = OpKind::kMatMul;
      n.inputs = {operand(node, node.input(0)), operand(node, node.input(1))};
      const Shape& a = model_.values[n.inputs[0]].shape;
      const Shape& b = model_.values[n.inputs[1]].shape;
      if (a.size() < 2 || b.size() < 2) {
        fail(node, "operands of rank 1 are not supported (shapes " +
                       to_string(a) + " and " + to_string(b) + ")");
      }
      Shape shape;
      if (!broadcast_shape(Shape(a.begin(), a.end() - 2),
                           Shape(b.begin(), b.end() - 2), &shape)) {
        fail(node, "batch dimensions of " + to_string(a) + " and " +
                       to_string(b) + " do not broadcast");
      }
      if (a.back() >= 0 && b[b.size() - 2] >= 0 &&
          a.back() != b[b.size() - 2]) {
        fail(node, "inner dimensions of " + to_string(a) + " and " +
                       to_string(b) + " differ");
      }
      shape.push_back(a[a.size() - 2]);
      shape.push_back(b.back());
      return add_simple(node, std::move(n), shape);
    }
    const uint32_t x = value_of(node, node.input(0));
    const Constant& b = constant(node, node.input(1));
    if (b.shape.size() != 2 || !b.is_float) {
      fail(node,
           "weight must be a 2-D float constant, is " + to_string(b.shape));
    }
    const int64_t in = b.shape[0];
    const int64_t out = b.shape[1];
    std::vector<float> w(b.f.size());
    for (int64_t i = 0; i < in; ++i) {
      for (int64_t o = 0; o < out; ++o) w[o * in + i] = b.f[i * out + o];
    }
    add_linear(node, x, std::move(w), out, in, weight_name(node.input(1)));
  }

  // The node that produced `tensor` if it is one of `ops` and its result may
  // be rewritten in place (this is its only reader and not a model output).
  NodeDef* fusable_producer(const std::string& tensor,
                            std::initializer_list<OpKind> ops) {
    const auto it = values_.find(tensor);
    if (it == values_.end() || readers_[tensor] != 1) return nullptr;
    for (auto n = model_.nodes.rbegin(); n != model_.nodes.rend(); ++n) {
      if (n->outputs.empty() || n->outputs[0] != it->second) continue;
      for (OpKind op : ops) {
        if (n->op == op) return &*n;
      }
      return nullptr;
    }
    return nullptr;
  }
  NodeDef* fusable_linear(const std::string& tensor) {
    return fusable_producer(tensor, {OpKind::kLinear});
  }
  // Where a following Relu or Clip(0, 6) can be fused.
  NodeDef* fusable_activation_target(const std::string& tensor) {
    NodeDef* n = fusable_producer(
        tensor, {OpKind::kLinear, OpKind::kConv, OpKind::kAdd});
    return n != nullptr && activation_of(n->attrs) == kernels::Activation::kNone
               ? n
               : nullptr;
  }

  // Renames the fused node's output to the consumer's output.
  void take_over_output(NodeDef* n, const std::string& new_name) {
    ValueDef& v = model_.values[n->outputs[0]];
    values_.erase(v.name);
    v.name = new_name;
    values_[new_name] = n->outputs[0];
  }

  void import_add(const onnx::NodeProto& node) {
    if (node.input_size() != 2) fail(node, "needs 2 inputs");
    const int ci = is_constant(node.input(1))   ? 1
                   : is_constant(node.input(0)) ? 0
                                                : -1;
    if (ci < 0) return add_node(node, OpKind::kAdd);
    const std::string& x = node.input(1 - ci);
    NodeDef* linear = fusable_linear(x);
    const Constant& c = constants_.at(node.input(ci));
    const int64_t out =
        linear != nullptr ? model_.weights[linear->weights[0]].shape[0] : -1;
    const bool bias_shaped =
        c.is_float &&
        (c.f.size() == 1 || (!c.shape.empty() && c.shape.back() == out &&
                             static_cast<int64_t>(c.f.size()) == out));
    if (linear == nullptr || linear->weights.size() != 1 ||
        activation_of(linear->attrs) != kernels::Activation::kNone || !bias_shaped) {
      return import_binary(node);
    }
    set_bias(node, linear, constant(node, node.input(ci)), 1.0f,
             weight_name(node.input(ci)));
    report_->folded.push_back("fused bias Add '" + node.name() + "' into '" +
                              linear->name + "'");
    take_over_output(linear, node.output(0));
  }

  void import_relu(const onnx::NodeProto& node) {
    if (node.input_size() != 1) fail(node, "needs 1 input");
    if (NodeDef* target = fusable_activation_target(node.input(0))) {
      set_activation(&target->attrs, kernels::Activation::kRelu);
      report_->folded.push_back("fused Relu '" + node.name() + "' into '" +
                                target->name + "'");
      take_over_output(target, node.output(0));
      return;
    }
    const uint32_t x = value_of(node, node.input(0));
    NodeDef n;
    n.name = node.name();
    n.op = OpKind::kRelu;
    n.inputs = {x};
    n.outputs = {add_value(node.output(0), model_.values[x].shape)};
    model_.nodes.push_back(std::move(n));
  }

  // ------------------------------------------------------------ CNN ops
  // A node of `op` over the node's activation inputs, output shape from the
  // runtime's rules for elementwise ops (same shape, or broadcast for Add).
  void add_node(const onnx::NodeProto& node, OpKind op) {
    NodeDef n;
    n.name = node.name();
    n.op = op;
    for (const std::string& in : node.input()) {
      n.inputs.push_back(value_of(node, in));
    }
    Shape shape = model_.values[n.inputs[0]].shape;
    if (op == OpKind::kAdd &&
        !broadcast_shape(shape, model_.values[n.inputs[1]].shape, &shape)) {
      fail(node, "shapes " + to_string(model_.values[n.inputs[0]].shape) +
                     " and " + to_string(model_.values[n.inputs[1]].shape) +
                     " do not broadcast");
    }
    n.outputs = {add_value(node.output(0), shape)};
    model_.nodes.push_back(std::move(n));
  }

  // Clip(x, min, max): bounds from inputs (opset 11+) or attributes (6-10);
  // an absent bound is unbounded. Clip(0, 6) after a Conv, Linear or Add is
  // fused as ReLU6.
  void import_clip(const onnx::NodeProto& node) {
    if (node.input_size() < 1 || node.input(0).empty()) {
      fail(node, "needs input");
    }
    float lo = attr_float(node, "min", -std::numeric_limits<float>::infinity());
    float hi = attr_float(node, "max", std::numeric_limits<float>::infinity());
    for (int k = 1; k < node.input_size() && k < 3; ++k) {
      if (node.input(k).empty()) continue;
      const Constant& c = constant(node, node.input(k));
      if (!c.is_float || c.f.size() != 1) {
        fail(node,
             std::string(k == 1 ? "min" : "max") + " must be a float scalar");
      }
      (k == 1 ? lo : hi) = c.f[0];
    }
    if (!(lo <= hi)) {
      fail(node,
           "min " + std::to_string(lo) + " is above max " + std::to_string(hi));
    }
    if (lo == 0.0f && hi == 6.0f) {
      if (NodeDef* target = fusable_activation_target(node.input(0))) {
        set_activation(&target->attrs, kernels::Activation::kRelu6);
        report_->folded.push_back("fused Clip(0, 6) '" + node.name() +
                                  "' into '" + target->name + "'");
        take_over_output(target, node.output(0));
        return;
      }
    }
    const uint32_t x = value_of(node, node.input(0));
    NodeDef n;
    n.name = node.name();
    n.op = OpKind::kClip;
    n.inputs = {x};
    n.attrs.set_float("min", lo);
    n.attrs.set_float("max", hi);
    n.outputs = {add_value(node.output(0), model_.values[x].shape)};
    model_.nodes.push_back(std::move(n));
  }

  // kernel_shape, strides, pads, dilations and auto_pad of a 2-D Conv or
  // pool on input `xs` (NCHW).
  SpatialParams spatial_params(const onnx::NodeProto& node, const Shape& xs,
                               const Shape& kernel) const {
    if (xs.size() != 4) {
      fail(node,
           "only 2-D (NCHW) inputs are supported, input is " + to_string(xs));
    }
    SpatialParams p;
    auto ints = [&](const char* name, size_t count, int64_t fallback,
                    int64_t min, uint32_t* out) {
      const onnx::AttributeProto* a = attr(node, name);
      if (a != nullptr && static_cast<size_t>(a->ints_size()) != count) {
        fail(node, std::string(name) + " must have " + std::to_string(count) +
                       " values for a 2-D window");
      }
      for (size_t k = 0; k < count; ++k) {
        const int64_t v =
            a != nullptr ? a->ints(static_cast<int>(k)) : fallback;
        if (v < min || v > (int64_t{1} << 16)) {
          fail(node, std::string(name) + " value " + std::to_string(v) +
                         " is not supported");
        }
        out[k] = static_cast<uint32_t>(v);
      }
    };
    if (kernel.empty()) {
      ints("kernel_shape", 2, 0, 1, p.kernel);
      if (attr(node, "kernel_shape") == nullptr) {
        fail(node, "needs kernel_shape");
      }
    } else {
      if (const onnx::AttributeProto* a = attr(node, "kernel_shape")) {
        if (a->ints_size() != 2 || a->ints(0) != kernel[0] ||
            a->ints(1) != kernel[1]) {
          fail(node, "kernel_shape does not match the weight");
        }
      }
      p.kernel[0] = static_cast<uint32_t>(kernel[0]);
      p.kernel[1] = static_cast<uint32_t>(kernel[1]);
    }
    ints("strides", 2, 1, 1, p.strides);
    ints("dilations", 2, 1, 1, p.dilations);
    ints("pads", 4, 0, 0, p.pads);
    const onnx::AttributeProto* auto_pad = attr(node, "auto_pad");
    const std::string mode = auto_pad != nullptr ? auto_pad->s() : "NOTSET";
    if (mode == "VALID") {
      std::fill(std::begin(p.pads), std::end(p.pads), 0u);
    } else if (mode == "SAME_UPPER" || mode == "SAME_LOWER") {
      for (int a = 0; a < 2; ++a) {
        const int64_t in = xs[2 + a];
        if (in < 0) {
          fail(node, "auto_pad " + mode +
                         " needs a known input size, "
                         "input is " +
                         to_string(xs));
        }
        const int64_t out = (in + p.strides[a] - 1) / p.strides[a];
        const int64_t window = int64_t{p.dilations[a]} * (p.kernel[a] - 1) + 1;
        const int64_t total =
            std::max<int64_t>(0, (out - 1) * p.strides[a] + window - in);
        const int64_t small = total / 2;
        const int64_t large = total - small;
        p.pads[a] = static_cast<uint32_t>(mode == "SAME_UPPER" ? small : large);
        p.pads[a + 2] =
            static_cast<uint32_t>(mode == "SAME_UPPER" ? large : small);
      }
    } else if (mode != "NOTSET") {
      fail(node, "auto_pad '" + mode + "' is not supported");
    }
    return p;
  }

  Shape window_output(const onnx::NodeProto& node, const Shape& xs,
                      int64_t channels, const SpatialParams& p) const {
    Shape y = {xs[0], channels, p.output_size(0, xs[2]),
               p.output_size(1, xs[3])};
    if ((xs[2] >= 0 && y[2] < 1) || (xs[3] >= 0 && y[3] < 1)) {
      fail(node, "input " + to_string(xs) + " is smaller than the window");
    }
    return y;
  }

  void add_conv(const onnx::NodeProto& node, uint32_t x, const SpatialParams& p,
                Shape w_shape, std::vector<float> w, std::vector<float> bias,
                const std::string& name) {
    const int64_t out = w_shape[0];
    WeightDef weight;
    weight.name = name;
    weight.shape = {out, w_shape[1] * w_shape[2] * w_shape[3]};
    weight.dense = std::move(w);
    model_.weights.push_back(std::move(weight));
    NodeDef n;
    n.name = node.name();
    n.op = OpKind::kConv;
    n.inputs = {x};
    set_spatial_params(&n.attrs, p);
    n.weights = {static_cast<uint32_t>(model_.weights.size() - 1)};
    if (!bias.empty()) {
      WeightDef b;
      b.name = name + ".bias";
      b.shape = {out};
      b.dense = std::move(bias);
      model_.weights.push_back(std::move(b));
      n.weights.push_back(static_cast<uint32_t>(model_.weights.size() - 1));
    }
    n.outputs = {add_value(
        node.output(0), window_output(node, model_.values[x].shape, out, p))};
    model_.nodes.push_back(std::move(n));
  }

  void import_conv(const onnx::NodeProto& node) {
    if (node.input_size() < 2) fail(node, "needs inputs X and W");
    const uint32_t x = value_of(node, node.input(0));
    const Shape& xs = model_.values[x].shape;
    const Constant& w = constant(node, node.input(1));
    if (!w.is_float || w.shape.size() != 4) {
      fail(node,
           "only 2-D convolutions (a 4-D float weight) are supported; "
           "weight is " +
               to_string(w.shape));
    }
    const SpatialParams base =
        spatial_params(node, xs, {w.shape[2], w.shape[3]});
    SpatialParams p = base;
    const int64_t group = attr_int(node, "group", 1);
    if (group < 1 || w.shape[0] % group != 0 ||
        (xs[1] >= 0 && xs[1] != w.shape[1] * group)) {
      fail(node, "group " + std::to_string(group) + " does not fit input " +
                     to_string(xs) + " and weight " + to_string(w.shape));
    }
    p.group = static_cast<uint32_t>(group);
    std::vector<float> bias;
    if (node.input_size() > 2 && !node.input(2).empty()) {
      const Constant& b = constant(node, node.input(2));
      if (!b.is_float || b.f.size() != static_cast<size_t>(w.shape[0])) {
        fail(node, "bias must hold " + std::to_string(w.shape[0]) + " floats");
      }
      bias = b.f;
    }
    add_conv(node, x, p, w.shape, w.f, std::move(bias),
             weight_name(node.input(1)));
  }

  // BatchNormalization (inference): folded into the Conv before it when this
  // is that Conv's only reader, else run as a 1x1 depthwise Conv (scale and
  // shift per channel).
  void import_batchnorm(const onnx::NodeProto& node) {
    if (node.input_size() != 5) fail(node, "needs 5 inputs");
    if (node.output_size() > 1) {
      fail(node, "training outputs (running mean/var) are not supported");
    }
    if (attr_int(node, "training_mode", 0) != 0) {
      fail(node, "training_mode=1 is not supported");
    }
    const float epsilon = attr_float(node, "epsilon", 1e-5f);
    const Constant* c[4];
    for (int k = 0; k < 4; ++k) c[k] = &constant(node, node.input(k + 1));
    const size_t channels = c[0]->f.size();
    for (const Constant* t : c) {
      if (!t->is_float || t->f.size() != channels) {
        fail(node, "scale, B, mean and var must be float vectors of one size");
      }
    }
    std::vector<float> scale(channels), shift(channels);
    for (size_t k = 0; k < channels; ++k) {
      const double s =
          c[0]->f[k] / std::sqrt(static_cast<double>(c[3]->f[k]) + epsilon);
      scale[k] = static_cast<float>(s);
      shift[k] = static_cast<float>(c[1]->f[k] - c[2]->f[k] * s);
    }
    NodeDef* conv = fusable_producer(node.input(0), {OpKind::kConv});
    if (conv != nullptr && activation_of(conv->attrs) == kernels::Activation::kNone &&
        static_cast<size_t>(model_.weights[conv->weights[0]].shape[0]) ==
            channels) {
      WeightDef& w = model_.weights[conv->weights[0]];
      const auto per_out = static_cast<size_t>(w.shape[1]);
      for (size_t o = 0; o < channels; ++o) {
        for (size_t k = 0; k < per_out; ++k)
          w.dense[o * per_out + k] *= scale[o];
      }
      if (conv->weights.size() == 1) {
        WeightDef b;
        b.name = w.name + ".bias";
        b.shape = {static_cast<int64_t>(channels)};
        b.dense.assign(channels, 0.0f);
        model_.weights.push_back(std::move(b));
        conv->weights.push_back(
            static_cast<uint32_t>(model_.weights.size() - 1));
      }
      std::vector<float>& b = model_.weights[conv->weights[1]].dense;
      for (size_t o = 0; o < channels; ++o) b[o] = b[o] * scale[o] + shift[o];
      report_->folded.push_back("folded BatchNormalization '" + node.name() +
                                "' into '" + conv->name + "'");
      take_over_output(conv, node.output(0));
      return;
    }
    const uint32_t x = value_of(node, node.input(0));
    const Shape& xs = model_.values[x].shape;
    if (xs.size() != 4 ||
        (xs[1] >= 0 && static_cast<size_t>(xs[1]) != channels)) {
      fail(node, "input " + to_string(xs) + " is not NCHW with " +
                     std::to_string(channels) + " channels");
    }
    SpatialParams p;
    p.group = static_cast<uint32_t>(channels);
    const auto ch = static_cast<int64_t>(channels);
    add_conv(node, x, p, {ch, 1, 1, 1}, scale, shift, node.name() + ".scale");
    report_->folded.push_back("BatchNormalization '" + node.name() +
                              "' runs as a per-channel 1x1 Conv");
  }

  void import_pool(const onnx::NodeProto& node) {
    if (node.input_size() != 1) fail(node, "needs 1 input");
    if (node.output_size() > 1 && !node.output(1).empty()) {
      fail(node, "the Indices output is not supported");
    }
    if (attr_int(node, "storage_order", 0) != 0) {
      fail(node, "storage_order=1 is not supported");
    }
    const uint32_t x = value_of(node, node.input(0));
    const Shape& xs = model_.values[x].shape;
    SpatialParams p = spatial_params(node, xs, {});
    p.ceil_mode = attr_int(node, "ceil_mode", 0) != 0;
    p.count_include_pad = attr_int(node, "count_include_pad", 0) != 0;
    const bool max = node.op_type() == "MaxPool";
    if (!max && (p.dilations[0] != 1 || p.dilations[1] != 1)) {
      fail(node, "dilations are not supported for AveragePool");
    }
    NodeDef n;
    n.name = node.name();
    n.op = max ? OpKind::kMaxPool : OpKind::kAveragePool;
    n.inputs = {x};
    set_spatial_params(&n.attrs, p);
    n.outputs = {add_value(node.output(0), window_output(node, xs, xs[1], p))};
    model_.nodes.push_back(std::move(n));
  }

  // PyTorch 1.13 puts a Pad before every AvgPool2d, zeros when the pool has
  // no padding: that one is the identity. Other pads are refused.
  void import_pad(const onnx::NodeProto& node) {
    if (node.input_size() < 2) fail(node, "needs data and pads inputs");
    const onnx::AttributeProto* mode = attr(node, "mode");
    const Constant& pads = constant(node, node.input(1));
    const bool zero = std::all_of(pads.i.begin(), pads.i.end(),
                                  [](int64_t v) { return v == 0; }) &&
                      std::all_of(pads.f.begin(), pads.f.end(),
                                  [](float v) { return v == 0.0f; });
    if (!zero || (mode != nullptr && mode->s() != "constant")) {
      fail(node, "only a Pad that adds nothing is supported (pads " +
                     std::string(zero ? "zero" : "non-zero") + ")");
    }
    values_[node.output(0)] = value_of(node, node.input(0));
    report_->folded.push_back("dropped Pad '" + node.name() +
                              "' (pads are all zero)");
  }

  void import_global_average_pool(const onnx::NodeProto& node) {
    if (node.input_size() != 1) fail(node, "needs 1 input");
    const uint32_t x = value_of(node, node.input(0));
    const Shape& xs = model_.values[x].shape;
    if (xs.size() != 4) {
      fail(node, "only NCHW inputs are supported, input is " + to_string(xs));
    }
    NodeDef n;
    n.name = node.name();
    n.op = OpKind::kGlobalAveragePool;
    n.inputs = {x};
    n.outputs = {add_value(node.output(0), {xs[0], xs[1], 1, 1})};
    model_.nodes.push_back(std::move(n));
  }

  void import_flatten(const onnx::NodeProto& node) {
    if (node.input_size() != 1) fail(node, "needs 1 input");
    const uint32_t x = value_of(node, node.input(0));
    const Shape xs = model_.values[x].shape;
    int64_t axis = attr_int(node, "axis", 1);
    const auto rank = static_cast<int64_t>(xs.size());
    if (axis < 0) axis += rank;
    if (axis < 0 || axis > rank) {
      fail(node, "axis " + std::to_string(attr_int(node, "axis", 1)) +
                     " out of range for rank " + std::to_string(rank));
    }
    auto product = [&](int64_t b, int64_t e) -> int64_t {
      int64_t p = 1;
      for (int64_t k = b; k < e; ++k) {
        if (xs[k] < 0) return -1;
        p *= xs[k];
      }
      return p;
    };
    NodeDef n;
    n.name = node.name();
    n.op = OpKind::kFlatten;
    n.attrs.set_int("axis", axis);
    n.inputs = {x};
    n.outputs = {
        add_value(node.output(0), {product(0, axis), product(axis, rank)})};
    model_.nodes.push_back(std::move(n));
  }

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

  std::string describe(const View& v) const {
    auto ints = [](const std::vector<int64_t>& values) {
      std::string s;
      for (int64_t x : values) s += (s.empty() ? "" : ", ") + std::to_string(x);
      return "[" + s + "]";
    };
    switch (v.kind) {
      case View::Kind::kTranspose:
        return "a Transpose (perm " + ints(v.perm) + ") of '" +
               model_.values[v.source].name + "' by node '" + v.node + "'";
      case View::Kind::kSlice:
        return "rows [" + std::to_string(v.start) + ", " +
               std::to_string(v.end) + ") of '" + model_.values[v.source].name +
               "' (Slice '" + v.node + "')";
      case View::Kind::kZeros:
        return "zeros shaped at run time (node '" + v.node + "')";
      case View::Kind::kBroadcastRow:
        return "row 0 of an embedding looked up by zeros (node '" + v.node +
               "')";
      case View::Kind::kShapeValue:
        break;
    }
    return "computed from tensor shapes (node '" + v.node + "')";
  }

  const View* view(const std::string& name) const {
    const auto it = views_.find(name);
    return it != views_.end() ? &it->second : nullptr;
  }
  bool is_view(const std::string& name, View::Kind kind) const {
    const View* v = view(name);
    return v != nullptr && v->kind == kind;
  }

  View& add_view(const onnx::NodeProto& node, View::Kind kind) {
    View& v = views_[node.output(0)];
    v.kind = kind;
    v.node = node.name();
    return v;
  }

  static std::vector<int64_t> attr_ints(const onnx::NodeProto& node,
                                        const std::string& name) {
    const onnx::AttributeProto* a = attr(node, name);
    if (a == nullptr) return {};
    return {a->ints().begin(), a->ints().end()};
  }

  // An integer list given as a constant input (newer opsets) or, when that
  // input is absent, as an attribute (older ones).
  std::vector<int64_t> ints_input_or_attr(const onnx::NodeProto& node,
                                          int input,
                                          const std::string& name) const {
    if (node.input_size() > input && !node.input(input).empty()) {
      const std::optional<std::vector<int64_t>> v =
          int_values(node.input(input));
      if (!v) {
        fail(node, "'" + name +
                       "' must be integer constants or computed "
                       "from tensor shapes");
      }
      return *v;
    }
    return attr_ints(node, name);
  }

  bool all_zero(const Constant& c) const {
    return std::all_of(c.f.begin(), c.f.end(),
                       [](float v) { return v == 0.0f; }) &&
           std::all_of(c.i.begin(), c.i.end(),
                       [](int64_t v) { return v == 0; });
  }

  // The shape of a tensor by name, whatever holds it.
  std::optional<Shape> shape_of(const std::string& name) const {
    const auto v = values_.find(name);
    if (v != values_.end()) return model_.values[v->second].shape;
    if (is_constant(name)) return constants_.at(name).shape;
    const View* w = view(name);
    if (w == nullptr) return std::nullopt;
    if (w->kind == View::Kind::kTranspose) {
      const Shape& xs = model_.values[w->source].shape;
      Shape ys;
      for (size_t d = 0; d < xs.size(); ++d) {
        const int64_t from = w->perm.empty()
                                 ? static_cast<int64_t>(xs.size() - 1 - d)
                                 : w->perm[d];
        if (from < 0 || from >= static_cast<int64_t>(xs.size()))
          return std::nullopt;
        ys.push_back(xs[static_cast<size_t>(from)]);
      }
      return ys;
    }
    if ((w->kind == View::Kind::kZeros ||
         w->kind == View::Kind::kBroadcastRow) &&
        w->sym_known) {
      return w->sym;
    }
    return std::nullopt;
  }

  // The integers a constant or a shape value holds, if known.
  std::optional<std::vector<int64_t>> int_values(const std::string& name,
                                                 bool* scalar = nullptr) const {
    if (const View* v = view(name)) {
      if (v->kind != View::Kind::kShapeValue || !v->sym_known)
        return std::nullopt;
      if (scalar != nullptr) *scalar = v->scalar;
      return v->sym;
    }
    if (!is_constant(name)) return std::nullopt;
    const Constant& c = constants_.at(name);
    if (scalar != nullptr) *scalar = c.shape.empty();
    if (!c.is_float) return c.i;
    std::vector<int64_t> out;
    for (float f : c.f) {
      if (f != std::floor(f)) return std::nullopt;
      out.push_back(static_cast<int64_t>(f));
    }
    return out;
  }

  // Evaluates shape arithmetic (Gather, Unsqueeze, Squeeze, Concat, Cast,
  // Slice, elementwise on known sizes) on integer vectors; leaves `out`
  // unknown when it cannot.
  void evaluate_shape_op(const onnx::NodeProto& node, View* out) const {
    const std::string& op = node.op_type();
    std::vector<std::vector<int64_t>> in;
    std::vector<bool> scalars;
    for (const std::string& name : node.input()) {
      if (name.empty()) {
        in.emplace_back();
        scalars.push_back(false);
        continue;
      }
      bool scalar = false;
      std::optional<std::vector<int64_t>> v = int_values(name, &scalar);
      if (!v) return;
      in.push_back(*v);
      scalars.push_back(scalar);
    }
    if (in.empty()) return;
    std::vector<int64_t> r;
    bool scalar = false;
    if (op == "Gather") {
      if (in.size() != 2 || attr_int(node, "axis", 0) != 0) return;
      const auto n = static_cast<int64_t>(in[0].size());
      for (int64_t k : in[1]) {
        if (k < 0) k += n;
        if (k < 0 || k >= n) return;
        r.push_back(in[0][static_cast<size_t>(k)]);
      }
      scalar = scalars[1];
    } else if (op == "Unsqueeze") {
      if (!scalars[0]) return;
      r = in[0];
    } else if (op == "Squeeze") {
      if (in[0].size() != 1) return;
      r = in[0];
      scalar = true;
    } else if (op == "Concat") {
      for (const auto& v : in) r.insert(r.end(), v.begin(), v.end());
    } else if (op == "Cast" || op == "Identity" || op == "Reshape") {
      r = in[0];
      scalar = scalars[0] && op != "Reshape";
    } else if (op == "Slice") {
      if (in.size() < 3 || in[1].size() != 1 || in[2].size() != 1 ||
          (in.size() > 4 && !in[4].empty() &&
           in[4] != std::vector<int64_t>{1})) {
        return;
      }
      const auto n = static_cast<int64_t>(in[0].size());
      int64_t b = in[1][0] < 0 ? in[1][0] + n : in[1][0];
      int64_t e = in[2][0] < 0 ? in[2][0] + n : in[2][0];
      b = std::clamp<int64_t>(b, 0, n);
      e = std::clamp<int64_t>(e, 0, n);
      for (int64_t k = b; k < e; ++k)
        r.push_back(in[0][static_cast<size_t>(k)]);
    } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
      if (in.size() != 2) return;
      const size_t n = std::max(in[0].size(), in[1].size());
      for (size_t k = 0; k < n; ++k) {
        const int64_t a = in[0][in[0].size() == 1 ? 0 : k];
        const int64_t b = in[1][in[1].size() == 1 ? 0 : k];
        if (a < 0 || b < 0 || (op == "Div" && b == 0)) return;
        r.push_back(op == "Add"   ? a + b
                    : op == "Sub" ? a - b
                    : op == "Mul" ? a * b
                                  : a / b);
      }
      scalar = scalars[0] && scalars[1];
    } else {
      return;
    }
    out->sym = std::move(r);
    out->scalar = scalar;
    out->sym_known = true;
  }

  // Shape arithmetic and the zeros it shapes (see the top of this file).
  // Returns true if `node` was such a node.
  bool track_shape_values(const onnx::NodeProto& node) {
    const std::string& op = node.op_type();
    if (op == "Shape") {
      std::optional<Shape> xs = shape_of(node.input(0));
      View& v = add_view(node, View::Kind::kShapeValue);
      if (xs) {
        const auto rank = static_cast<int64_t>(xs->size());
        int64_t b = attr_int(node, "start", 0), e = attr_int(node, "end", rank);
        b = std::clamp<int64_t>(b < 0 ? b + rank : b, 0, rank);
        e = std::clamp<int64_t>(e < 0 ? e + rank : e, 0, rank);
        for (int64_t k = b; k < e; ++k)
          v.sym.push_back((*xs)[static_cast<size_t>(k)]);
        v.sym_known = true;
      }
      return true;
    }
    if (op == "ConstantOfShape") {
      const onnx::AttributeProto* value = attr(node, "value");
      if (value != nullptr && !all_zero(constant_from_proto(
                                  value->t(), path_ + ": " + node.name()))) {
        fail(node, "only a fill value of 0 is supported");
      }
      std::optional<std::vector<int64_t>> shape = int_values(node.input(0));
      View& v = add_view(node, View::Kind::kZeros);
      if (shape) {
        v.sym = *shape;
        v.sym_known = true;
      }
      return true;
    }
    const std::string& first = node.input_size() > 0 ? node.input(0) : "";
    const bool zeros_in =
        is_view(first, View::Kind::kZeros) ||
        (is_constant(first) && all_zero(constants_.at(first)));
    if ((op == "Expand" || op == "Slice") && zeros_in &&
        !(op == "Slice" && is_constant(first))) {
      add_view(node, View::Kind::kZeros);
      return true;
    }
    // Ops whose later inputs are sizes by design look only at their data.
    const bool data_only = op == "Reshape" || op == "Expand" || op == "Slice" ||
                           op == "Unsqueeze" || op == "Squeeze" ||
                           op == "Split" || op == "Tile";
    bool from_shapes = false;
    bool from_activations = false;
    for (int k = 0; k < node.input_size(); ++k) {
      const std::string& in = node.input(k);
      if (in.empty() || is_constant(in) || (data_only && k > 0)) continue;
      (is_view(in, View::Kind::kShapeValue) ? from_shapes : from_activations) =
          true;
    }
    if (!from_shapes) return false;
    if (from_activations) {
      fail(node,
           "mixes tensor shapes with activations; shape arithmetic is "
           "folded only where it computes sizes");
    }
    View result;
    evaluate_shape_op(node, &result);
    View& v = add_view(node, View::Kind::kShapeValue);
    v.sym = std::move(result.sym);
    v.sym_known = result.sym_known;
    v.scalar = result.scalar;
    return true;
  }

  // The LSTM whose Y is `name`, if `name` has no other reader.
  NodeDef* sole_lstm_y(const std::string& name) {
    const auto it = values_.find(name);
    if (it == values_.end() || readers_[name] != 1) return nullptr;
    const auto lstm = lstm_of_y_.find(it->second);
    return lstm != lstm_of_y_.end() ? &model_.nodes[lstm->second] : nullptr;
  }

  void rename_value(uint32_t id, const std::string& new_name) {
    ValueDef& v = model_.values[id];
    values_.erase(v.name);
    v.name = new_name;
    values_[new_name] = id;
  }

  void import_transpose(const onnx::NodeProto& node) {
    if (node.input_size() != 1) fail(node, "needs 1 input");
    const std::vector<int64_t> perm = attr_ints(node, "perm");
    // A merged LSTM output turned batch first (or back).
    NodeDef* lstm = sole_lstm_y(node.input(0));
    if (lstm != nullptr && lstm_params_of(lstm->attrs).merged_output &&
        perm == std::vector<int64_t>{1, 0, 2}) {
      LstmParams p = lstm_params_of(lstm->attrs);
      p.output_batch_major = !p.output_batch_major;
      set_lstm_params(&lstm->attrs, p);
      ValueDef& y = model_.values[lstm->outputs[0]];
      std::swap(y.shape[0], y.shape[1]);
      rename_value(lstm->outputs[0], node.output(0));
      report_->folded.push_back("folded Transpose '" + node.name() +
                                "' into LSTM '" + lstm->name + "'");
      return;
    }
    const uint32_t source = value_of(node, node.input(0));
    View& v = add_view(node, View::Kind::kTranspose);
    v.source = source;
    v.perm = perm;
  }

  // Reshape(Transpose(Y, [0, 2, 1, 3]), [0, 0, -1]) or Squeeze(Y, [1]) of a
  // seq-major LSTM output, Reshape(Y, [0, 0, -1]) or Squeeze(Y, [2]) of a
  // batch-major one: the directions side by side, which the LSTM writes
  // directly.
  void import_merge(const onnx::NodeProto& node) {
    const bool reshape = node.op_type() == "Reshape";
    std::string y_name = node.input(0);
    const View* v = view(y_name);
    const bool transposed = v != nullptr && v->kind == View::Kind::kTranspose &&
                            v->perm == std::vector<int64_t>{0, 2, 1, 3} &&
                            readers_[y_name] == 1;
    if (transposed) y_name = model_.values[v->source].name;
    NodeDef* lstm = sole_lstm_y(y_name);
    if (lstm != nullptr && !lstm_params_of(lstm->attrs).merged_output) {
      LstmParams p = lstm_params_of(lstm->attrs);
      const auto width = static_cast<int64_t>(p.directions() * p.hidden_size);
      ValueDef& y = model_.values[lstm->outputs[0]];
      bool merges = false;
      if (reshape) {
        const Constant& shape = constant(node, node.input(1));
        const Shape merged = {y.shape[0],
                              p.output_batch_major ? y.shape[1] : y.shape[2]};
        merges = transposed != p.output_batch_major && !shape.is_float &&
                 shape.i.size() == 3 &&
                 (shape.i[2] == -1 || shape.i[2] == width);
        for (size_t d = 0; merges && d < 2; ++d) {
          merges =
              shape.i[d] == 0 || (merged[d] >= 0 && shape.i[d] == merged[d]);
        }
      } else {
        const std::vector<int64_t> axes = ints_input_or_attr(node, 1, "axes");
        merges = !transposed && p.directions() == 1 &&
                 axes == std::vector<int64_t>{p.output_batch_major ? 2 : 1};
      }
      if (merges) {
        p.merged_output = true;
        set_lstm_params(&lstm->attrs, p);
        y.shape = p.output_batch_major ? Shape{y.shape[0], y.shape[1], width}
                                       : Shape{y.shape[0], y.shape[2], width};
        rename_value(lstm->outputs[0], node.output(0));
        if (transposed) views_.erase(node.input(0));
        report_->folded.push_back("folded " + node.op_type() + " '" +
                                  node.name() + "' into LSTM '" + lstm->name +
                                  "' (directions side by side)");
        return;
      }
    }
    import_reshape(node);
  }

  // Slice of any tensor; ends computed from a dynamic size (PyTorch's
  // position_ids[:, :seq_len]) end at that dimension of a value holding it.
  void import_general_slice(const onnx::NodeProto& node) {
    if (node.input_size() < 3 && attr(node, "starts") == nullptr) {
      fail(node, "needs starts and ends");
    }
    const uint32_t x = operand(node, node.input(0));
    const Shape xs = model_.values[x].shape;
    const std::vector<int64_t> starts = ints_input_or_attr(node, 1, "starts");
    const std::vector<int64_t> ends = ints_input_or_attr(node, 2, "ends");
    std::vector<int64_t> axes = ints_input_or_attr(node, 3, "axes");
    std::vector<int64_t> steps = ints_input_or_attr(node, 4, "steps");
    if (axes.empty()) {
      for (size_t k = 0; k < starts.size(); ++k)
        axes.push_back(static_cast<int64_t>(k));
    }
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (ends.size() != starts.size() || axes.size() != starts.size() ||
        steps.size() != starts.size()) {
      fail(node, "starts, ends, axes and steps differ in length");
    }
    auto symbolic = [&](int input) {
      const View* v =
          node.input_size() > input ? view(node.input(input)) : nullptr;
      return v != nullptr && v->kind == View::Kind::kShapeValue;
    };
    const bool symbolic_ends = symbolic(2);
    if (symbolic(1)) {
      for (int64_t b : starts) {
        if (b <= -2)
          fail(node, "starts computed from dynamic sizes are not supported");
      }
    }
    constexpr int64_t kFar = int64_t{1} << 40;
    NodeDef n;
    n.op = OpKind::kSlice;
    n.inputs = {x};
    uint32_t ref = kNoValue;
    Shape ys = xs;
    std::vector<int64_t> slices, end_dims;
    for (size_t k = 0; k < starts.size(); ++k) {
      int64_t axis =
          axes[k] < 0 ? axes[k] + static_cast<int64_t>(xs.size()) : axes[k];
      if (axis < 0 || axis >= static_cast<int64_t>(xs.size())) {
        fail(node, "axis " + std::to_string(axes[k]) + " out of range for " +
                       to_string(xs));
      }
      if (steps[k] == 0) fail(node, "step 0");
      const int64_t start = std::clamp(starts[k], -kFar, kFar);
      int64_t end = std::clamp(ends[k], -kFar, kFar);
      int32_t end_dim = -1;
      const int64_t dim = xs[static_cast<size_t>(axis)];
      int64_t size = -1;
      if (symbolic_ends && ends[k] <= -2) {
        const auto origin = symbol_origin_.find(ends[k]);
        if (origin == symbol_origin_.end()) {
          fail(node, "its end is a size spruce cannot trace to an input");
        }
        if (ref != kNoValue && ref != origin->second.first) {
          fail(node, "ends come from two different inputs");
        }
        ref = origin->second.first;
        end_dim = static_cast<int32_t>(origin->second.second);
        end = 0;
        if (start == 0 && steps[k] == 1) size = ends[k];  // the symbol itself
      } else if (dim >= 0) {
        int64_t b = start < 0 ? start + dim : start;
        int64_t e = end < 0 ? end + dim : end;
        if (steps[k] > 0) {
          b = std::clamp<int64_t>(b, 0, dim);
          e = std::clamp<int64_t>(e, 0, dim);
          size = e > b ? (e - b + steps[k] - 1) / steps[k] : 0;
        } else {
          b = std::clamp<int64_t>(b, 0, dim - 1);
          e = std::clamp<int64_t>(e, -1, dim - 1);
          size = b > e ? (b - e - steps[k] - 1) / -steps[k] : 0;
        }
        if (size == 0)
          fail(node, "the slice of " + to_string(xs) + " is empty");
      }
      ys[static_cast<size_t>(axis)] = size;
      slices.insert(slices.end(), {axis, start, end, steps[k]});
      end_dims.push_back(end_dim);
    }
    if (ref != kNoValue) n.inputs.push_back(ref);
    n.attrs.set_ints("slices", std::move(slices));
    n.attrs.set_ints("end_dims", std::move(end_dims));
    add_simple(node, std::move(n), ys);
  }

  // Rows of axis 0 (PyTorch's per-layer h0/c0): a view an LSTM reads with an
  // offset.
  void import_slice(const onnx::NodeProto& node) {
    const std::vector<int64_t> starts = ints_input_or_attr(node, 1, "starts");
    const std::vector<int64_t> ends = ints_input_or_attr(node, 2, "ends");
    const std::vector<int64_t> axes = ints_input_or_attr(node, 3, "axes");
    const std::vector<int64_t> steps = ints_input_or_attr(node, 4, "steps");
    const bool rows = starts.size() == 1 && ends.size() == 1 &&
                      (axes.empty() || axes == std::vector<int64_t>{0}) &&
                      (steps.empty() || steps == std::vector<int64_t>{1}) &&
                      starts[0] >= 0 && ends[0] > starts[0] &&
                      values_.count(node.input(0)) != 0;
    if (!rows) return import_general_slice(node);
    const uint32_t source = value_of(node, node.input(0));
    View& v = add_view(node, View::Kind::kSlice);
    v.source = source;
    v.start = starts[0];
    v.end = ends[0];
  }

  void import_concat(const onnx::NodeProto& node) {
    if (node.input_size() < 1) fail(node, "needs inputs");
    NodeDef n;
    n.name = node.name();
    n.op = OpKind::kConcat;
    Shape shape;
    size_t concat_axis = 0;
    for (const std::string& in : node.input()) {
      const uint32_t v = operand(node, in);
      const Shape& s = model_.values[v].shape;
      if (n.inputs.empty()) {
        shape = s;
        int64_t axis = attr_int(node, "axis", 0);
        if (axis < 0) axis += static_cast<int64_t>(s.size());
        if (axis < 0 || axis >= static_cast<int64_t>(s.size())) {
          fail(node, "axis out of range for input " + to_string(s));
        }
        n.attrs.set_int("axis", axis);
        concat_axis = static_cast<size_t>(axis);
      } else if (s.size() != shape.size()) {
        fail(node, "inputs differ in rank");
      } else {
        int64_t& joined = shape[concat_axis];
        const int64_t add = s[concat_axis];
        joined = joined >= 0 && add >= 0 ? joined + add : -1;
      }
      n.inputs.push_back(v);
    }
    n.outputs = {add_value(node.output(0), shape)};
    model_.nodes.push_back(std::move(n));
  }

  // ------------------------------------------------------------ tensor ops
  // `name` as an activation: a value, a materialized view, or a constant
  // made into a Constant node (once per constant).
  uint32_t operand(const onnx::NodeProto& node, const std::string& name) {
    if (values_.count(name) == 0 && views_.count(name) == 0 &&
        is_constant(name)) {
      const Constant& c = constants_.at(name);
      std::vector<float> data =
          c.is_float ? c.f : std::vector<float>(c.i.begin(), c.i.end());
      if (data.empty()) fail(node, "constant '" + name + "' is empty");
      // A scalar is stored as [1]: the same under broadcasting.
      const Shape shape = c.shape.empty() ? Shape{1} : c.shape;
      NodeDef n;
      n.name = name;
      n.op = OpKind::kConstant;
      n.weights = {add_weight(weight_name(name), shape, std::move(data))};
      const uint32_t id = add_value(name, shape);
      n.outputs = {id};
      model_.nodes.push_back(std::move(n));
      return id;
    }
    return value_of(node, name);
  }

  // Turns a view into a node when a general op reads it.
  std::optional<uint32_t> materialize(const onnx::NodeProto& consumer,
                                      const std::string& name, View v) {
    NodeDef n;
    n.name = v.node;
    Shape ys;
    switch (v.kind) {
      case View::Kind::kTranspose: {
        const Shape xs = model_.values[v.source].shape;
        std::vector<int64_t> perm = v.perm;
        if (perm.empty()) {
          for (size_t d = xs.size(); d-- > 0;)
            perm.push_back(static_cast<int64_t>(d));
        }
        if (perm.size() != xs.size()) {
          fail(consumer, "Transpose '" + v.node + "' has a perm of " +
                             std::to_string(perm.size()) + " for rank " +
                             std::to_string(xs.size()));
        }
        for (int64_t& p : perm) {
          if (p < 0) p += static_cast<int64_t>(xs.size());
          if (p < 0 || p >= static_cast<int64_t>(xs.size())) {
            fail(consumer, "Transpose '" + v.node + "' has an invalid perm");
          }
          ys.push_back(xs[static_cast<size_t>(p)]);
        }
        n.op = OpKind::kTranspose;
        n.inputs = {v.source};
        n.attrs.set_ints("perm", perm);
        break;
      }
      case View::Kind::kSlice: {
        ys = model_.values[v.source].shape;
        if (ys.empty()) return std::nullopt;
        ys[0] = ys[0] >= 0
                    ? std::min(v.end, ys[0]) - v.start
                    : (v.end < (int64_t{1} << 40) ? v.end - v.start : -1);
        n.op = OpKind::kSlice;
        n.inputs = {v.source};
        n.attrs.set_ints(
            "slices", {0, v.start, std::min<int64_t>(v.end, int64_t{1} << 40), 1});
        n.attrs.set_ints("end_dims", {-1});
        break;
      }
      case View::Kind::kZeros: {
        if (!v.sym_known || std::any_of(v.sym.begin(), v.sym.end(),
                                        [](int64_t d) { return d <= 0; })) {
          return std::nullopt;
        }
        n.op = OpKind::kConstant;
        n.weights = {add_weight(
            name, v.sym, std::vector<float>(element_count(v.sym), 0.0f))};
        ys = v.sym;
        break;
      }
      case View::Kind::kBroadcastRow: {
        // Only as an operand of an elementwise op whose other operand has
        // the looked-up shape: then row 0 broadcast gives the same result.
        const std::string& op = consumer.op_type();
        bool ok = (op == "Add" || op == "Sub" || op == "Mul") &&
                  consumer.input_size() == 2;
        if (ok) {
          const std::string& other =
              consumer.input(0) == name ? consumer.input(1) : consumer.input(0);
          const std::optional<Shape> os = shape_of(other);
          ok = os && *os == v.sym;
        }
        if (!ok) return std::nullopt;
        Shape row_shape(v.sym.size(), 1);
        row_shape.back() = static_cast<int64_t>(v.row.size());
        n.op = OpKind::kConstant;
        n.weights = {add_weight(name, row_shape, v.row)};
        ys = row_shape;
        report_->folded.push_back(
            "Gather '" + v.node +
            "' of zeros is row 0 of its table, broadcast");
        break;
      }
      case View::Kind::kShapeValue:
        return std::nullopt;
    }
    views_.erase(name);
    const uint32_t id = add_value(name, ys);
    n.outputs = {id};
    model_.nodes.push_back(std::move(n));
    return id;
  }

  void add_simple(const onnx::NodeProto& node, NodeDef n, Shape shape) {
    n.name = node.name();
    n.outputs = {add_value(node.output(0), std::move(shape))};
    model_.nodes.push_back(std::move(n));
  }

  Shape broadcast_or_fail(const onnx::NodeProto& node,
                          const std::vector<uint32_t>& inputs) const {
    Shape shape = model_.values[inputs[0]].shape;
    for (size_t k = 1; k < inputs.size(); ++k) {
      if (!broadcast_shape(shape, model_.values[inputs[k]].shape, &shape)) {
        fail(node, "shapes " + to_string(model_.values[inputs[0]].shape) +
                       " and " + to_string(model_.values[inputs[k]].shape) +
                       " do not broadcast");
      }
    }
    return shape;
  }

  void import_binary(const onnx::NodeProto& node) {
    if (node.input_size() != 2) fail(node, "needs 2 inputs");
    static const std::map<std::string, BinaryOp> kOps = {
        {"Add", BinaryOp::kAdd}, {"Sub", BinaryOp::kSub},
        {"Mul", BinaryOp::kMul}, {"Div", BinaryOp::kDiv},
        {"Pow", BinaryOp::kPow}, {"Equal", BinaryOp::kEqual}};
    NodeDef n;
    n.op = OpKind::kBinary;
    n.attrs.set_int("op", static_cast<int64_t>(kOps.at(node.op_type())));
    n.inputs = {operand(node, node.input(0)), operand(node, node.input(1))};
    const Shape shape = broadcast_or_fail(node, n.inputs);
    add_simple(node, std::move(n), shape);
  }

  void import_unary(const onnx::NodeProto& node) {
    if (node.input_size() != 1) fail(node, "needs 1 input");
    static const std::map<std::string, UnaryOp> kOps = {
        {"Sqrt", UnaryOp::kSqrt},       {"Erf", UnaryOp::kErf},
        {"Tanh", UnaryOp::kTanh},       {"Exp", UnaryOp::kExp},
        {"Sigmoid", UnaryOp::kSigmoid}, {"Neg", UnaryOp::kNeg},
        {"Abs", UnaryOp::kAbs},         {"Reciprocal", UnaryOp::kReciprocal},
        {"Gelu", UnaryOp::kGelu}};
    const UnaryOp op = kOps.at(node.op_type());
    if (op == UnaryOp::kGelu) {
      NodeDef* linear = fusable_producer(node.input(0), {OpKind::kLinear});
      if (linear != nullptr &&
          activation_of(linear->attrs) == kernels::Activation::kNone) {
        set_activation(&linear->attrs, kernels::Activation::kGelu);
        report_->folded.push_back("fused GELU '" + node.name() + "' into '" +
                                  linear->name + "'");
        take_over_output(linear, node.output(0));
        return;
      }
    }
    NodeDef n;
    n.op = OpKind::kUnary;
    n.attrs.set_int("op", static_cast<int64_t>(op));
    n.inputs = {operand(node, node.input(0))};
    const Shape shape = model_.values[n.inputs[0]].shape;
    add_simple(node, std::move(n), shape);
  }

  // Values are floats inside spruce: a Cast to a float type is free, to an
  // integer type rounds toward zero, to bool tests for non-zero.
  void import_cast(const onnx::NodeProto& node) {
    if (node.input_size() != 1) fail(node, "needs 1 input");
    const int64_t to = attr_int(node, "to", 0);
    const uint32_t x = operand(node, node.input(0));
    const bool from_int = model_.values[x].dtype == DataType::kInt64;
    UnaryOp op;
    switch (to) {
      case onnx::TensorProto::FLOAT:
        values_[node.output(0)] = x;
        return;
      // Every value inside spruce is float32: as a no-op these would skip
      // the rounding (or widening) the model asks for.
      case onnx::TensorProto::FLOAT16:
        fail(node, "Cast to float16 is not supported (spruce computes in "
                   "float32 and would not round to half precision)");
      case onnx::TensorProto::BFLOAT16:
        fail(node, "Cast to bfloat16 is not supported (spruce computes in "
                   "float32 and would not round to bfloat16)");
      case onnx::TensorProto::DOUBLE:
        fail(node, "Cast to double is not supported (spruce computes in "
                   "float32)");
      case onnx::TensorProto::INT64:
      case onnx::TensorProto::INT32:
      case onnx::TensorProto::INT16:
      case onnx::TensorProto::INT8:
        if (from_int) {
          values_[node.output(0)] = x;
          return;
        }
        op = UnaryOp::kTrunc;
        break;
      case onnx::TensorProto::BOOL:
        op = UnaryOp::kCastBool;
        break;
      default:
        fail(node, "Cast to " + onnx_type_name(static_cast<int>(to)) +
                       " is not supported");
    }
    NodeDef n;
    n.op = OpKind::kUnary;
    n.attrs.set_int("op", static_cast<int64_t>(op));
    n.inputs = {x};
    const Shape shape = model_.values[x].shape;
    add_simple(node, std::move(n), shape);
  }

  void import_gather(const onnx::NodeProto& node) {
    if (node.input_size() != 2) fail(node, "needs 2 inputs");
    if (!is_constant(node.input(0))) {
      fail(node,
           "data must be a constant table (an embedding); gathering "
           "from activations is not supported");
    }
    if (attr_int(node, "axis", 0) != 0) fail(node, "only axis 0 is supported");
    const Constant& table = constants_.at(node.input(0));
    if (!table.is_float || table.shape.empty() || table.shape[0] < 1) {
      fail(node, "table must be a float constant with at least one row, is " +
                     to_string(table.shape));
    }
    const Shape row(table.shape.begin() + 1, table.shape.end());
    const size_t width = element_count(row);
    if (const View* z = view(node.input(1));
        z != nullptr && z->kind == View::Kind::kZeros) {
      if (!z->sym_known) fail(node, "indices are zeros of an unknown shape");
      if (row.size() != 1) fail(node, "zeros index a table of rank 2 only");
      View& v = add_view(node, View::Kind::kBroadcastRow);
      v.sym = views_.at(node.input(1)).sym;
      v.sym.push_back(table.shape[1]);
      v.sym_known = true;
      v.row.assign(table.f.begin(), table.f.begin() + static_cast<long>(width));
      return;
    }
    NodeDef n;
    n.op = OpKind::kGather;
    n.inputs = {operand(node, node.input(1))};
    n.weights = {add_weight(weight_name(node.input(0)), table.shape, table.f)};
    Shape shape = model_.values[n.inputs[0]].shape;
    shape.insert(shape.end(), row.begin(), row.end());
    add_simple(node, std::move(n), shape);
  }

  std::vector<int64_t> normalized_axes(const onnx::NodeProto& node,
                                       std::vector<int64_t> axes,
                                       size_t rank) const {
    for (int64_t& a : axes) {
      if (a < 0) a += static_cast<int64_t>(rank);
      if (a < 0 || a >= static_cast<int64_t>(rank)) {
        fail(node, "axis out of range for rank " + std::to_string(rank));
      }
    }
    std::sort(axes.begin(), axes.end());
    if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) {
      fail(node, "axes repeat");
    }
    return axes;
  }

  void import_reduce_mean(const onnx::NodeProto& node) {
    NodeDef n;
    n.op = OpKind::kReduceMean;
    n.inputs = {operand(node, node.input(0))};
    const Shape xs = model_.values[n.inputs[0]].shape;
    const std::vector<int64_t> axes =
        normalized_axes(node, ints_input_or_attr(node, 1, "axes"), xs.size());
    n.attrs.set_ints("axes", axes);
    if (axes.empty() && attr_int(node, "noop_with_empty_axes", 0) != 0) {
      values_[node.output(0)] = n.inputs[0];
      return;
    }
    const bool keepdims = attr_int(node, "keepdims", 1) != 0;
    n.attrs.set_int("keepdims", keepdims);
    Shape shape;
    for (size_t d = 0; d < xs.size(); ++d) {
      const bool reduced =
          axes.empty() || std::binary_search(axes.begin(), axes.end(),
                                               static_cast<int64_t>(d));
      if (!reduced) {
        shape.push_back(xs[d]);
      } else if (keepdims) {
        shape.push_back(1);
      }
    }
    add_simple(node, std::move(n), shape);
  }

  // a · b for sizes known so far (-1 once either is unknown); a product past
  // 2^62 is refused rather than overflowing (a hostile shape).
  int64_t known_product(const onnx::NodeProto& node, int64_t a,
                        int64_t b) const {
    if (a <= 0 || b <= 0) return -1;
    int64_t product = 0;
    if (__builtin_mul_overflow(a, b, &product) ||
        product > (int64_t{1} << 62)) {
      fail(node, "sizes multiply past 2^62");
    }
    return product;
  }

  void import_layer_norm(const onnx::NodeProto& node) {
    if (node.input_size() < 2) fail(node, "needs X and Scale");
    NodeDef n;
    n.op = OpKind::kLayerNorm;
    n.inputs = {operand(node, node.input(0))};
    const Shape xs = model_.values[n.inputs[0]].shape;
    int64_t axis = attr_int(node, "axis", -1);
    if (axis < 0) axis += static_cast<int64_t>(xs.size());
    if (axis < 0 || axis >= static_cast<int64_t>(xs.size())) {
      fail(node, "axis out of range for input " + to_string(xs));
    }
    const float epsilon = attr_float(node, "epsilon", 1e-5f);
    n.attrs.set_int("axis", axis);
    n.attrs.set_float("epsilon", epsilon);
    int64_t inner = 1;
    for (size_t d = static_cast<size_t>(axis); d < xs.size(); ++d) {
      inner = known_product(node, inner, xs[d]);
    }
    for (int k = 1; k < 3 && k < node.input_size(); ++k) {
      if (node.input(k).empty()) continue;
      const Constant& c = constant(node, node.input(k));
      std::vector<float> data = c.f;
      if (!c.is_float) fail(node, "scale and bias must be float");
      if (data.size() == 1 && inner > 1) {
        data.assign(static_cast<size_t>(inner), data[0]);
      }
      if (inner > 0 && data.size() != static_cast<size_t>(inner)) {
        fail(node, "scale/bias of " + std::to_string(data.size()) +
                       " values for " + std::to_string(inner) +
                       " normalized values");
      }
      const auto size = static_cast<int64_t>(data.size());
      n.weights.push_back(
          add_weight(weight_name(node.input(k)), {size}, std::move(data)));
    }
    const uint32_t x = n.inputs[0];
    add_simple(node, std::move(n), xs);
    layer_norm_statistics(node, x, static_cast<size_t>(axis), epsilon);
  }

  // LayerNormalization's optional outputs Mean and InvStdDev, when the graph
  // reads them, built from ops spruce has: ReduceMean(X) over the normalized
  // axes, and 1 / sqrt(ReduceMean((X - Mean)²) + epsilon).
  void layer_norm_statistics(const onnx::NodeProto& node, uint32_t x,
                             size_t axis, float epsilon) {
    auto wanted = [&](int k) {
      return node.output_size() > k && !node.output(k).empty() &&
             readers_[node.output(k)] > 0;
    };
    if (!wanted(1) && !wanted(2)) return;
    const Shape xs = model_.values[x].shape;
    Shape stat = xs;
    std::vector<int64_t> axes;
    for (size_t d = axis; d < xs.size(); ++d) {
      stat[d] = 1;
      axes.push_back(static_cast<int64_t>(d));
    }
    const std::string base = node.output(0) + "/";
    auto add = [&](const std::string& name, NodeDef n, const Shape& shape) {
      n.name = name;
      const uint32_t id = add_value(name, shape);
      n.outputs = {id};
      model_.nodes.push_back(std::move(n));
      return id;
    };
    auto reduce = [&](const std::string& name, uint32_t in) {
      NodeDef n;
      n.op = OpKind::kReduceMean;
      n.inputs = {in};
      n.attrs.set_ints("axes", axes);
      n.attrs.set_int("keepdims", 1);
      return add(name, std::move(n), stat);
    };
    auto binary = [&](const std::string& name, BinaryOp op, uint32_t a,
                      uint32_t b, const Shape& shape) {
      NodeDef n;
      n.op = OpKind::kBinary;
      n.attrs.set_int("op", static_cast<int64_t>(op));
      n.inputs = {a, b};
      return add(name, std::move(n), shape);
    };
    auto unary = [&](const std::string& name, UnaryOp op, uint32_t in) {
      NodeDef n;
      n.op = OpKind::kUnary;
      n.attrs.set_int("op", static_cast<int64_t>(op));
      n.inputs = {in};
      return add(name, std::move(n), stat);
    };
    const uint32_t mean = reduce(wanted(1) ? node.output(1) : base + "mean", x);
    if (!wanted(2)) return;
    const uint32_t centered =
        binary(base + "centered", BinaryOp::kSub, x, mean, xs);
    const uint32_t squared =
        binary(base + "squared", BinaryOp::kMul, centered, centered, xs);
    const uint32_t variance = reduce(base + "variance", squared);
    NodeDef eps;
    eps.op = OpKind::kConstant;
    eps.weights = {add_weight(base + "epsilon", {1}, {epsilon})};
    const uint32_t eps_value = add(base + "epsilon", std::move(eps), {1});
    const uint32_t shifted = binary(base + "variance_eps", BinaryOp::kAdd,
                                    variance, eps_value, stat);
    unary(node.output(2), UnaryOp::kReciprocal,
          unary(base + "std", UnaryOp::kSqrt, shifted));
  }

  void import_softmax(const onnx::NodeProto& node) {
    if (node.input_size() != 1) fail(node, "needs 1 input");
    NodeDef n;
    n.op = OpKind::kSoftmax;
    n.inputs = {operand(node, node.input(0))};
    const Shape xs = model_.values[n.inputs[0]].shape;
    const bool coerce_2d = opset_ < 13;
    n.attrs.set_int("coerce_2d", coerce_2d);
    int64_t axis = attr_int(node, "axis", coerce_2d ? 1 : -1);
    if (axis < 0) axis += static_cast<int64_t>(xs.size());
    if (axis < 0 || axis >= static_cast<int64_t>(xs.size())) {
      fail(node, "axis out of range for input " + to_string(xs));
    }
    n.attrs.set_int("axis", axis);
    add_simple(node, std::move(n), xs);
  }

  void import_where(const onnx::NodeProto& node) {
    if (node.input_size() != 3) fail(node, "needs 3 inputs");
    NodeDef n;
    n.op = OpKind::kWhere;
    for (int k = 0; k < 3; ++k)
      n.inputs.push_back(operand(node, node.input(k)));
    const Shape shape = broadcast_or_fail(node, n.inputs);
    add_simple(node, std::move(n), shape);
  }

  void import_expand(const onnx::NodeProto& node) {
    if (node.input_size() != 2) fail(node, "needs 2 inputs");
    const std::optional<std::vector<int64_t>> target =
        int_values(node.input(1));
    if (!target || std::any_of(target->begin(), target->end(),
                               [](int64_t d) { return d < 1; })) {
      fail(node, "the target shape must be known at conversion");
    }
    NodeDef n;
    n.op = OpKind::kExpand;
    n.inputs = {operand(node, node.input(0))};
    n.attrs.set_ints("shape", *target);
    Shape shape;
    if (!broadcast_shape(model_.values[n.inputs[0]].shape, *target, &shape)) {
      fail(node, "cannot expand " +
                     to_string(model_.values[n.inputs[0]].shape) + " to " +
                     to_string(*target));
    }
    add_simple(node, std::move(n), shape);
  }

  void import_split(const onnx::NodeProto& node) {
    NodeDef n;
    n.name = node.name();
    n.op = OpKind::kSplit;
    n.inputs = {operand(node, node.input(0))};
    const Shape xs = model_.values[n.inputs[0]].shape;
    int64_t axis = attr_int(node, "axis", 0);
    if (axis < 0) axis += static_cast<int64_t>(xs.size());
    if (axis < 0 || axis >= static_cast<int64_t>(xs.size())) {
      fail(node, "axis out of range for input " + to_string(xs));
    }
    n.attrs.set_int("axis", axis);
    std::vector<int64_t> sizes = ints_input_or_attr(node, 1, "split");
    const int64_t dim = xs[static_cast<size_t>(axis)];
    if (sizes.empty()) {
      const int64_t parts = node.output_size();
      if (dim < 0 || dim % parts != 0) {
        fail(node, "cannot split " + to_string(xs) + " into " +
                       std::to_string(parts) + " equal parts");
      }
      sizes.assign(static_cast<size_t>(parts), dim / parts);
    }
    if (sizes.size() != static_cast<size_t>(node.output_size())) {
      fail(node, "has " + std::to_string(sizes.size()) + " split sizes for " +
                     std::to_string(node.output_size()) + " outputs");
    }
    for (int64_t size : sizes) {
      if (size <= 0) {
        fail(node, "split size " + std::to_string(size) +
                       ": empty (zero-size) tensors are not supported");
      }
    }
    n.attrs.set_ints("split", sizes);
    for (size_t k = 0; k < sizes.size(); ++k) {
      Shape ys = xs;
      ys[static_cast<size_t>(axis)] = sizes[k];
      n.outputs.push_back(add_value(node.output(static_cast<int>(k)), ys));
    }
    model_.nodes.push_back(std::move(n));
  }

  // Reshape, Squeeze, Unsqueeze as a runtime Reshape whose dynamic sizes are
  // copied from the input: entries <= -2 copy input dimension -d - 2.
  void import_reshape(const onnx::NodeProto& node) {
    const std::string& op = node.op_type();
    const uint32_t x = operand(node, node.input(0));
    const Shape xs = model_.values[x].shape;
    std::vector<int64_t> spec;
    Shape ys;
    auto copy = [&](size_t j) {
      spec.push_back(-2 - static_cast<int64_t>(j));
      ys.push_back(xs[j]);
    };
    if (op == "Squeeze") {
      std::vector<int64_t> axes = ints_input_or_attr(node, 1, "axes");
      if (axes.empty()) {
        for (size_t d = 0; d < xs.size(); ++d) {
          if (xs[d] == 1) axes.push_back(static_cast<int64_t>(d));
          if (xs[d] < 0)
            fail(node, "squeezing all size-1 dimensions of " + to_string(xs) +
                           " needs known sizes");
        }
      }
      axes = normalized_axes(node, axes, xs.size());
      for (size_t d = 0; d < xs.size(); ++d) {
        if (std::binary_search(axes.begin(), axes.end(),
                               static_cast<int64_t>(d))) {
          if (xs[d] > 1)
            fail(node, "dimension " + std::to_string(d) + " of " +
                           to_string(xs) + " is not 1");
          continue;
        }
        copy(d);
      }
    } else if (op == "Unsqueeze") {
      const std::vector<int64_t> axes = normalized_axes(
          node, ints_input_or_attr(node, 1, "axes"),
          xs.size() + ints_input_or_attr(node, 1, "axes").size());
      size_t j = 0;
      for (size_t d = 0; d < xs.size() + axes.size(); ++d) {
        if (std::binary_search(axes.begin(), axes.end(),
                               static_cast<int64_t>(d))) {
          spec.push_back(1);
          ys.push_back(1);
        } else {
          copy(j++);
        }
      }
    } else {
      const std::optional<std::vector<int64_t>> target =
          int_values(node.input(1));
      if (!target) {
        fail(node,
             "the target shape must be a constant or computed from "
             "tensor shapes");
      }
      const bool allowzero = attr_int(node, "allowzero", 0) != 0;
      size_t infer = target->size();
      for (size_t i = 0; i < target->size(); ++i) {
        const int64_t t = (*target)[i];
        if (t == 0 && !allowzero && i < xs.size()) {
          copy(i);
        } else if (t > 0) {
          spec.push_back(t);
          ys.push_back(t);
        } else if (t <= -2) {
          const auto j = std::find(xs.begin(), xs.end(), t);
          if (j != xs.end()) {
            copy(static_cast<size_t>(j - xs.begin()));
            continue;
          }
          if (infer != target->size()) fail(node, "two sizes are unknown");
          infer = i;
          spec.push_back(-1);
          ys.push_back(-1);
        } else if (t == -1) {
          if (infer != target->size()) fail(node, "two sizes are unknown");
          infer = i;
          spec.push_back(-1);
          ys.push_back(-1);
        } else {
          fail(node, "size " + std::to_string(t) + " is not supported");
        }
      }
      if (infer < ys.size()) {
        int64_t total = 1, known = 1;
        for (int64_t d : xs) total = known_product(node, total, d);
        for (size_t i = 0; i < ys.size(); ++i) {
          if (i != infer) known = known_product(node, known, ys[i]);
        }
        if (total > 0 && known > 0) {
          if (total % known != 0) {
            fail(node, "cannot reshape " + to_string(xs) + " into " +
                           to_string(*target));
          }
          ys[infer] = total / known;
        }
      }
    }
    NodeDef n;
    n.op = OpKind::kReshape;
    n.inputs = {x};
    n.attrs.set_ints("shape", std::move(spec));
    add_simple(node, std::move(n), ys);
  }

  // Reshape / Squeeze / Unsqueeze of a constant.
  bool fold_reshape(const onnx::NodeProto& node) {
    Constant c = constants_.at(node.input(0));
    const Shape& xs = c.shape;
    Shape ys;
    const std::string& op = node.op_type();
    const auto count = static_cast<int64_t>(element_count(xs));
    if (op == "Reshape") {
      const std::optional<std::vector<int64_t>> t = int_values(node.input(1));
      if (!t) return false;
      int64_t known = 1;
      size_t infer = t->size();
      for (size_t i = 0; i < t->size(); ++i) {
        int64_t d = (*t)[i];
        if (d == 0 && i < xs.size()) d = xs[i];
        if (d == -1) {
          infer = i;
        } else if (d <= 0) {
          fail(node, "size " + std::to_string(d) +
                         " in the shape of a constant's Reshape");
        } else {
          known = known_product(node, known, d);
        }
        ys.push_back(d);
      }
      if (infer < ys.size()) ys[infer] = known > 0 ? count / known : 0;
    } else {
      std::vector<int64_t> axes = ints_input_or_attr(node, 1, "axes");
      if (op == "Squeeze") {
        for (size_t d = 0; d < xs.size(); ++d) {
          const bool listed =
              std::find(axes.begin(), axes.end(), static_cast<int64_t>(d)) !=
                  axes.end() ||
              std::find(axes.begin(), axes.end(),
                        static_cast<int64_t>(d) -
                            static_cast<int64_t>(xs.size())) != axes.end();
          if (!((axes.empty() && xs[d] == 1) || listed)) ys.push_back(xs[d]);
        }
      } else {
        const size_t rank = xs.size() + axes.size();
        axes = normalized_axes(node, axes, rank);
        size_t j = 0;
        for (size_t d = 0; d < rank; ++d) {
          ys.push_back(std::binary_search(axes.begin(), axes.end(),
                                          static_cast<int64_t>(d))
                           ? 1
                           : xs[j++]);
        }
      }
    }
    if (static_cast<int64_t>(element_count(ys)) != count) {
      fail(node, "cannot reshape constant " + to_string(xs) + " into " +
                     to_string(ys));
    }
    c.shape = ys;
    constants_[node.output(0)] = std::move(c);
    report_->folded.push_back("folded " + op + " '" + node.name() + "'");
    return true;
  }

  // ------------------------------------------------------------ LSTM
  // An initial state: absent (not given, zeros) or a value read from row
  // `offset` on.
  struct StateInput {
    uint32_t value = kNoValue;
    int64_t offset = 0;
  };

  StateInput lstm_state(const onnx::NodeProto& node, int input, uint32_t dirs) {
    StateInput s;
    if (node.input_size() <= input || node.input(input).empty()) return s;
    const std::string& name = node.input(input);
    if (is_view(name, View::Kind::kZeros)) return s;
    if (is_constant(name)) {
      if (all_zero(constants_.at(name))) return s;
      fail(node, "a constant non-zero initial state ('" + name +
                     "') is not supported; pass it as an input");
    }
    const View* v = view(name);
    if (v != nullptr && v->kind == View::Kind::kSlice) {
      const int64_t rows = model_.values[v->source].shape[0];
      const int64_t end = rows >= 0 ? std::min(v->end, rows) : v->end;
      if (end - v->start != dirs) {
        fail(node, "initial state " + describe(*v) + " does not hold " +
                       std::to_string(dirs) + " direction(s)");
      }
      s.value = v->source;
      s.offset = v->start;
      return s;
    }
    s.value = value_of(node, name);
    return s;
  }

  // ONNX W [dirs, 4H, in] (or R [dirs, 4H, H]) as one [4H, K] weight per
  // direction.
  void check_lstm_weight(const onnx::NodeProto& node, const Constant& c,
                         const char* what, int64_t dirs, int64_t rows) const {
    if (!c.is_float || c.shape.size() != 3 || c.shape[0] != dirs ||
        c.shape[1] != rows || c.shape[2] <= 0) {
      fail(node, std::string(what) + " has shape " + to_string(c.shape) +
                     ", expected [" + std::to_string(dirs) + ", " +
                     std::to_string(rows) + ", ...]");
    }
  }

  uint32_t add_weight(const std::string& name, Shape shape,
                      std::vector<float> data) {
    WeightDef w;
    w.name = name;
    w.shape = std::move(shape);
    w.dense = std::move(data);
    model_.weights.push_back(std::move(w));
    return static_cast<uint32_t>(model_.weights.size() - 1);
  }

  void import_lstm(const onnx::NodeProto& node) {
    if (node.input_size() < 3) fail(node, "needs inputs X, W and R");
    auto given = [&](int i) {
      return node.input_size() > i && !node.input(i).empty();
    };
    if (given(4)) {
      fail(node,
           "sequence_lens (sequences of different lengths in one "
           "batch) is not supported; run equal-length sequences");
    }
    if (given(7)) fail(node, "peephole weights (input P) are not supported");
    if (attr(node, "clip") != nullptr) {
      fail(node, "attribute 'clip' (cell clipping) is not supported");
    }
    if (attr_int(node, "input_forget", 0) != 0) {
      fail(node, "attribute 'input_forget' (coupled gates) is not supported");
    }
    if (attr(node, "activation_alpha") != nullptr ||
        attr(node, "activation_beta") != nullptr) {
      fail(node, "activation_alpha/activation_beta are not supported");
    }
    LstmParams p;
    const onnx::AttributeProto* direction = attr(node, "direction");
    const std::string dir = direction != nullptr ? direction->s() : "forward";
    if (dir == "reverse") {
      p.direction = LstmDirection::kReverse;
    } else if (dir == "bidirectional") {
      p.direction = LstmDirection::kBidirectional;
    } else if (dir != "forward") {
      fail(node, "unknown direction '" + dir + "'");
    }
    const uint32_t dirs = p.directions();
    if (const onnx::AttributeProto* acts = attr(node, "activations")) {
      for (int k = 0; k < acts->strings_size(); ++k) {
        const char* expected = k % 3 == 0 ? "Sigmoid" : "Tanh";
        if (acts->strings(k) != expected) {
          fail(node, "activation '" + acts->strings(k) +
                         "' is not supported "
                         "(only Sigmoid, Tanh, Tanh)");
        }
      }
    }
    const int64_t hidden = attr_int(node, "hidden_size", 0);
    if (hidden <= 0 || hidden > (1 << 24)) {
      fail(node, "needs a positive attribute hidden_size");
    }
    p.hidden_size = static_cast<uint32_t>(hidden);
    const int64_t layout = attr_int(node, "layout", 0);
    if (layout != 0 && layout != 1) {
      fail(node, "layout " + std::to_string(layout) + " is not 0 or 1");
    }
    // X: an activation, or a Transpose (batch_first) of one.
    uint32_t x = 0;
    bool x_transposed = false;
    const View* xv = view(node.input(0));
    if (xv != nullptr && xv->kind == View::Kind::kTranspose &&
        xv->perm == std::vector<int64_t>{1, 0, 2}) {
      x = xv->source;
      x_transposed = true;
      report_->folded.push_back("folded Transpose '" + xv->node +
                                "' into LSTM '" + node.name() + "'");
    } else {
      x = value_of(node, node.input(0));
    }
    p.input_batch_major = (layout == 1) != x_transposed;
    p.output_batch_major = layout == 1;
    p.state_batch_major = layout == 1;

    const Shape& xs = model_.values[x].shape;
    if (xs.size() != 3) fail(node, "input X must be 3-D, is " + to_string(xs));
    const int64_t gates = 4 * hidden;
    const Constant& w = constant(node, node.input(1));
    const Constant& r = constant(node, node.input(2));
    check_lstm_weight(node, w, "W", dirs, gates);
    check_lstm_weight(node, r, "R", dirs, gates);
    const int64_t in = w.shape[2];
    if (r.shape[2] != hidden) fail(node, "R must be [dirs, 4H, H]");
    if (xs[2] >= 0 && xs[2] != in) {
      fail(node, "input X " + to_string(xs) + " does not match W " +
                     to_string(w.shape));
    }
    const Constant* b = given(3) ? &constant(node, node.input(3)) : nullptr;
    if (b != nullptr && (!b->is_float || b->shape != Shape{dirs, 2 * gates})) {
      fail(node, "B has shape " + to_string(b->shape) + ", expected [" +
                     std::to_string(dirs) + ", " + std::to_string(2 * gates) +
                     "]");
    }

    NodeDef n;
    n.name = node.name();
    n.op = OpKind::kLstm;
    static const char* kDirectionName[] = {".forward", ".reverse"};
    for (uint32_t d = 0; d < dirs; ++d) {
      const std::string suffix =
          dirs == 2
              ? kDirectionName[d]
              : (p.direction == LstmDirection::kReverse ? ".reverse" : "");
      const auto w_size = static_cast<size_t>(gates * in);
      const auto r_size = static_cast<size_t>(gates * hidden);
      n.weights.push_back(
          add_weight(node.name() + ".W" + suffix, {gates, in},
                     std::vector<float>(w.f.begin() + d * w_size,
                                        w.f.begin() + (d + 1) * w_size)));
      n.weights.push_back(
          add_weight(node.name() + ".R" + suffix, {gates, hidden},
                     std::vector<float>(r.f.begin() + d * r_size,
                                        r.f.begin() + (d + 1) * r_size)));
      // The runtime adds one bias: ONNX's input and recurrent biases summed.
      std::vector<float> bias(static_cast<size_t>(gates), 0.0f);
      if (b != nullptr) {
        const float* bd = b->f.data() + d * 2 * gates;
        for (int64_t k = 0; k < gates; ++k) bias[k] = bd[k] + bd[gates + k];
      }
      n.weights.push_back(
          add_weight(node.name() + ".B" + suffix, {gates}, std::move(bias)));
    }

    const StateInput h0 = lstm_state(node, 5, dirs);
    const StateInput c0 = lstm_state(node, 6, dirs);
    if (h0.value != kNoValue && c0.value != kNoValue &&
        h0.offset != c0.offset) {
      fail(node, "initial_h and initial_c start at different rows");
    }
    p.state_offset =
        static_cast<uint32_t>(h0.value != kNoValue ? h0.offset : c0.offset);
    if (p.state_batch_major && p.state_offset != 0) {
      fail(node, "a slice of batch-major initial states is not supported");
    }
    n.inputs = {x, h0.value, c0.value};
    while (!n.inputs.empty() && n.inputs.back() == kNoValue) {
      n.inputs.pop_back();
    }

    const int64_t seq = p.input_batch_major ? xs[1] : xs[0];
    const int64_t batch = p.input_batch_major ? xs[0] : xs[1];
    const int64_t nd = dirs;
    const Shape y_shape = p.output_batch_major ? Shape{batch, seq, nd, hidden}
                                               : Shape{seq, nd, batch, hidden};
    const Shape state_shape = p.state_batch_major ? Shape{batch, nd, hidden}
                                                  : Shape{nd, batch, hidden};
    for (int k = 0; k < 3; ++k) {
      const bool used = node.output_size() > k && !node.output(k).empty() &&
                        readers_[node.output(k)] > 0;
      n.outputs.push_back(
          used ? add_value(node.output(k), k == 0 ? y_shape : state_shape)
               : kNoValue);
    }
    // None used: all popped, and refused just below.
    while (!n.outputs.empty() && n.outputs.back() == kNoValue) {
      n.outputs.pop_back();
    }
    if (n.outputs.empty()) fail(node, "none of its outputs is used");
    set_lstm_params(&n.attrs, p);
    if (n.outputs[0] != kNoValue) {
      lstm_of_y_[n.outputs[0]] = model_.nodes.size();
    }
    model_.nodes.push_back(std::move(n));
  }

  // ------------------------------------------------------------ formats
  // Each matrix of a Linear or LSTM gets its format; a Linear's bias, an
  // LSTM direction's bias, is counted with the matrix before it.
  void choose_formats() {
    for (const NodeDef& n : model_.nodes) {
      if (n.op == OpKind::kLinear || n.op == OpKind::kConv) {
        choose_format(n.name, n.weights[0],
                      {n.weights.begin() + 1, n.weights.end()});
      } else if (n.op == OpKind::kLstm) {
        for (size_t k = 0; k + 2 < n.weights.size(); k += 3) {
          choose_format(n.name, n.weights[k], {});
          choose_format(n.name, n.weights[k + 1], {n.weights[k + 2]});
        }
      }
    }
  }

  void choose_format(const std::string& node, uint32_t matrix,
                     const std::vector<uint32_t>& biases) {
    {
      WeightDef& w = model_.weights[matrix];
      const auto rows = static_cast<size_t>(w.shape[0]);
      const auto cols = static_cast<size_t>(w.shape[1]);
      CsrMatrix csr = CsrMatrix::from_dense(w.dense.data(), rows, cols);
      LayerReport layer;
      layer.node = node;
      layer.weight = w.name;
      layer.shape = w.shape;
      layer.sparsity = csr.sparsity();
      layer.dense_bytes = w.dense_bytes();
      const bool sparse =
          !options_.dense && layer.sparsity >= options_.sparse_threshold;
      std::optional<BsrMatrix> bsr;
      if (sparse) bsr = block_format(w.dense.data(), rows, cols, csr);
      if (bsr && bsr->stored_bytes() < w.dense_bytes()) {
        w.format = WeightFormat::kBsr;
        layer.block_rows = bsr->block_rows();
        layer.block_cols = bsr->block_cols();
        w.bsr = std::move(*bsr);
      } else if (sparse && options_.allow_csr &&
                 csr.stored_bytes() < w.dense_bytes()) {
        w.format = WeightFormat::kCsr;
        w.csr = std::move(csr);
      }
      if (w.format != WeightFormat::kDense) {
        w.dense.clear();
        w.dense.shrink_to_fit();
      }
      layer.format = w.format;
      layer.stored_bytes = w.stored_bytes();
      for (uint32_t k : biases) {
        const WeightDef& bias = model_.weights[k];
        layer.dense_bytes += bias.dense_bytes();
        layer.stored_bytes += bias.stored_bytes();
      }
      report_->layers.push_back(std::move(layer));
    }
  }

  // The BSR form of a weight, per ConvertOptions' block settings; none when
  // the weight should not be stored BSR.
  std::optional<BsrMatrix> block_format(const float* dense, size_t rows,
                                        size_t cols,
                                        const CsrMatrix& csr) const {
    if (!options_.block_sparse || csr.nnz() == 0) return std::nullopt;
    auto fits = [&](size_t br, size_t bc) {
      return br > 0 && bc > 0 && rows % br == 0 && cols % bc == 0;
    };
    if (options_.block_rows != 0 || options_.block_cols != 0) {
      if (!fits(options_.block_rows, options_.block_cols)) return std::nullopt;
      return BsrMatrix::from_dense(dense, rows, cols, options_.block_rows,
                                   options_.block_cols);
    }
    for (const auto& [br, bc] : kAutoBlockShapes) {
      if (!fits(br, bc)) continue;
      BsrMatrix bsr = BsrMatrix::from_dense(dense, rows, cols, br, bc);
      const double fill = static_cast<double>(csr.nnz()) /
                          static_cast<double>(bsr.nnz_blocks() * br * bc);
      if (fill >= options_.min_block_fill) return bsr;
    }
    return std::nullopt;
  }

  std::string path_;
  ConvertOptions options_;
  ConversionReport* report_;
  ModelDef model_;
  std::unordered_map<std::string, Constant> constants_;
  std::unordered_map<std::string, uint32_t> values_;
  std::unordered_map<std::string, int> readers_;
  std::unordered_map<std::string, std::string> weight_names_;
  std::unordered_map<std::string, View> views_;
  std::unordered_map<uint32_t, size_t> lstm_of_y_;  // Y value → node index
  int64_t opset_ = 13;
  // Dynamic input sizes by name (dim_param) → their symbol (<= -2), and
  // where each symbol first appears (value, dimension).
  std::map<std::string, int64_t> symbols_;
  std::map<int64_t, std::pair<uint32_t, size_t>> symbol_origin_;
};

}  // namespace

ModelDef import_onnx(const std::string& path, const ConvertOptions& options,
                     ConversionReport* report) {
  ConversionReport local;
  return Importer(path, options, report != nullptr ? report : &local).run();
}

ConversionReport convert_onnx_file(const std::string& onnx_path,
                                   const std::string& spruce_path,
                                   const ConvertOptions& options) {
  ConversionReport report;
  const ModelDef model = import_onnx(onnx_path, options, &report);
  report.spruce_file_bytes = write_model(model, spruce_path);
  return report;
}

std::vector<OnnxOpCount> onnx_op_summary(const std::string& path) {
  const onnx::ModelProto model = read_onnx_model(path);
  std::map<std::string, OnnxOpCount> ops;
  for (const onnx::NodeProto& node : model.graph().node()) {
    const bool standard = node.domain().empty() || node.domain() == "ai.onnx";
    const std::string key =
        standard ? node.op_type() : node.domain() + "." + node.op_type();
    OnnxOpCount& c = ops[key];
    c.op = key;
    ++c.count;
    c.supported = standard && supported_ops().count(node.op_type()) != 0;
  }
  std::vector<OnnxOpCount> out;
  for (auto& [name, c] : ops) out.push_back(std::move(c));
  return out;
}

}  // namespace spruce::converters
