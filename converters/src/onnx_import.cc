// ONNX importer. Walks the graph once in ONNX order (which the standard makes
// topological): constant subgraphs are folded as they appear, supported ops
// become spruce nodes, and bias Add / Relu that follow a Linear are fused into
// it when the Linear's output has no other reader.
#include "spruce/converters/onnx_import.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "onnx_util.h"
#include "spruce/error.h"
#include "spruce/version.h"

namespace spruce::converters {
namespace {

constexpr size_t kMaxOnnxBytes = size_t{2} << 30;  // protobuf's own limit

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
        model_.metadata.emplace_back("source_opset",
                                     std::to_string(opset.version()));
      }
    }

    count_readers(graph);
    for (const onnx::TensorProto& init : graph.initializer()) {
      constants_[init.name()] =
          constant_from_proto(init, path_ + ": initializer '" + init.name() + "'");
    }
    read_inputs(graph);
    for (int i = 0; i < graph.node_size(); ++i) {
      import_node(graph.node(i), i);
    }
    read_outputs(graph);
    choose_formats();
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

  void count_readers(const onnx::GraphProto& graph) {
    for (const onnx::NodeProto& node : graph.node()) {
      for (const std::string& in : node.input()) ++readers_[in];
    }
    for (const onnx::ValueInfoProto& out : graph.output()) ++readers_[out.name()];
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

  uint32_t value_of(const onnx::NodeProto& node, const std::string& name) const {
    const auto it = values_.find(name);
    if (it == values_.end()) {
      if (is_constant(name)) {
        fail(node, "input '" + name + "' is a constant where spruce expects "
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
  void read_inputs(const onnx::GraphProto& graph) {
    for (const onnx::ValueInfoProto& in : graph.input()) {
      if (is_constant(in.name())) continue;  // initializers listed as inputs
      const auto& type = in.type();
      if (!type.has_tensor_type() ||
          type.tensor_type().elem_type() != onnx::TensorProto::FLOAT) {
        fail("input '" + in.name() + "' is not a float32 tensor");
      }
      Shape shape;
      for (const auto& dim : type.tensor_type().shape().dim()) {
        shape.push_back(dim.has_dim_value() && dim.dim_value() > 0
                            ? dim.dim_value()
                            : -1);
      }
      model_.inputs.push_back(add_value(in.name(), shape));
    }
    if (model_.inputs.empty()) fail("model has no non-constant inputs");
  }

  void read_outputs(const onnx::GraphProto& graph) {
    for (const onnx::ValueInfoProto& out : graph.output()) {
      const auto it = values_.find(out.name());
      if (it == values_.end()) {
        fail("output '" + out.name() + "' is " +
             (is_constant(out.name()) ? "a constant" : "never computed") +
             "; spruce needs outputs computed from the inputs");
      }
      model_.outputs.push_back(it->second);
    }
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
    if (node.output_size() < 1 || node.output(0).empty()) {
      fail(named, "has no output");
    }
    for (const std::string& in : node.input()) {
      if (in.empty() && op != "Gemm") {
        fail(named, "optional (empty) inputs are not supported here");
      }
    }
    if (op == "Constant") return import_constant(named);
    if (try_fold(named)) return;
    if (op == "Gemm") return import_gemm(named);
    if (op == "MatMul") return import_matmul(named);
    if (op == "Add") return import_add(named);
    if (op == "Relu") return import_relu(named);
    if (op == "Flatten") return import_flatten(named);
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
      c = constant_from_proto(value->t(), path_ + ": Constant '" + node.name() + "'");
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
    const bool binary = op == "Mul" || op == "Add" || op == "Sub" || op == "Div";
    if (!binary && op != "Identity" && op != "Cast" && op != "Transpose") {
      fail(node, "constant folding of '" + op + "' is not supported");
    }
    if (node.input_size() != (binary ? 2 : 1)) {
      fail(node, "expected " + std::to_string(binary ? 2 : 1) + " inputs, has " +
                     std::to_string(node.input_size()));
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
      fail(node, "constant Cast to type " + std::to_string(to) +
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
      for (size_t c = 0; c < cols; ++c) out.f[c * rows + r] = in.f[r * cols + c];
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
  void add_linear(const onnx::NodeProto& node, uint32_t x,
                  std::vector<float> w, int64_t out, int64_t in,
                  const std::string& weight_name) {
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
    n.op = OpType::kLinear;
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

  void set_bias(const onnx::NodeProto& node, NodeDef* linear,
                const Constant& c, float scale, const std::string& name) {
    const int64_t out = model_.weights[linear->weights[0]].shape[0];
    // Bias broadcast over everything but the last dimension: [out], [1, out],
    // or a scalar.
    const bool per_feature =
        !c.shape.empty() && c.shape.back() == out &&
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
      fail(node, "input A must be 2-D, is " + to_string(model_.values[x].shape));
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

  void import_matmul(const onnx::NodeProto& node) {
    if (node.input_size() != 2) fail(node, "needs 2 inputs");
    if (!is_constant(node.input(1))) {
      fail(node, "a product of two activations is not supported yet; the "
                 "second input must be a constant weight");
    }
    const uint32_t x = value_of(node, node.input(0));
    const Constant& b = constant(node, node.input(1));
    if (b.shape.size() != 2 || !b.is_float) {
      fail(node, "weight must be a 2-D float constant, is " +
                     to_string(b.shape));
    }
    const int64_t in = b.shape[0];
    const int64_t out = b.shape[1];
    std::vector<float> w(b.f.size());
    for (int64_t i = 0; i < in; ++i) {
      for (int64_t o = 0; o < out; ++o) w[o * in + i] = b.f[i * out + o];
    }
    add_linear(node, x, std::move(w), out, in, weight_name(node.input(1)));
  }

  // The Linear node that produced `tensor`, if its result may be rewritten
  // in place (this is its only reader and it has no bias / activation yet).
  NodeDef* fusable_linear(const std::string& tensor) {
    const auto it = values_.find(tensor);
    if (it == values_.end() || readers_[tensor] != 1) return nullptr;
    for (NodeDef& n : model_.nodes) {
      if (n.op == OpType::kLinear && n.outputs[0] == it->second) return &n;
    }
    return nullptr;
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
    const int ci = is_constant(node.input(1)) ? 1 : is_constant(node.input(0)) ? 0 : -1;
    if (ci < 0) {
      fail(node, "adding two activations is not supported yet");
    }
    const std::string& x = node.input(1 - ci);
    NodeDef* linear = fusable_linear(x);
    if (linear == nullptr || linear->weights.size() != 1 ||
        linear->activation != kernels::Activation::kNone) {
      fail(node, "only a bias added to the output of a MatMul/Gemm is "
                 "supported");
    }
    set_bias(node, linear, constant(node, node.input(ci)), 1.0f,
             weight_name(node.input(ci)));
    report_->folded.push_back("fused bias Add '" + node.name() + "' into '" +
                              linear->name + "'");
    take_over_output(linear, node.output(0));
  }

  void import_relu(const onnx::NodeProto& node) {
    if (node.input_size() != 1) fail(node, "needs 1 input");
    NodeDef* linear = fusable_linear(node.input(0));
    if (linear != nullptr && linear->activation == kernels::Activation::kNone) {
      linear->activation = kernels::Activation::kRelu;
      report_->folded.push_back("fused Relu '" + node.name() + "' into '" +
                                linear->name + "'");
      take_over_output(linear, node.output(0));
      return;
    }
    const uint32_t x = value_of(node, node.input(0));
    NodeDef n;
    n.name = node.name();
    n.op = OpType::kRelu;
    n.inputs = {x};
    n.outputs = {add_value(node.output(0), model_.values[x].shape)};
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
    n.op = OpType::kFlatten;
    n.axis = static_cast<int>(axis);
    n.inputs = {x};
    n.outputs = {add_value(node.output(0), {product(0, axis), product(axis, rank)})};
    model_.nodes.push_back(std::move(n));
  }

  // ------------------------------------------------------------ formats
  void choose_formats() {
    for (const NodeDef& n : model_.nodes) {
      if (n.op != OpType::kLinear) continue;
      WeightDef& w = model_.weights[n.weights[0]];
      const auto rows = static_cast<size_t>(w.shape[0]);
      const auto cols = static_cast<size_t>(w.shape[1]);
      CsrMatrix csr = CsrMatrix::from_dense(w.dense.data(), rows, cols);
      LayerReport layer;
      layer.node = n.name;
      layer.weight = w.name;
      layer.shape = w.shape;
      layer.sparsity = csr.sparsity();
      layer.dense_bytes = w.dense_bytes();
      const bool sparse = !options_.dense &&
                          layer.sparsity >= options_.sparse_threshold;
      std::optional<BsrMatrix> bsr;
      if (sparse) bsr = block_format(w.dense.data(), rows, cols, csr);
      if (bsr && bsr->stored_bytes() < w.dense_bytes()) {
        w.format = WeightFormat::kBsr;
        layer.block_rows = bsr->block_rows();
        layer.block_cols = bsr->block_cols();
        w.bsr = std::move(*bsr);
      } else if (sparse && csr.stored_bytes() < w.dense_bytes()) {
        w.format = WeightFormat::kCsr;
        w.csr = std::move(csr);
      }
      if (w.format != WeightFormat::kDense) {
        w.dense.clear();
        w.dense.shrink_to_fit();
      }
      layer.format = w.format;
      layer.stored_bytes = w.stored_bytes();
      for (size_t k = 1; k < n.weights.size(); ++k) {
        const WeightDef& bias = model_.weights[n.weights[k]];
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

}  // namespace spruce::converters
