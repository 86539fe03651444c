// The importer's shared steps (importer.h) and the rule registry.
#include "onnx/importer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "evaluate.h"
#include "onnx_fusion.h"
#include "spruce/kernels/block_shapes.h"
#include "spruce/error.h"
#include "spruce/version.h"

namespace spruce::converters {
namespace {

constexpr size_t kMaxOnnxBytes = size_t{2} << 30;  // protobuf's own limit

}  // namespace

#define SPRUCE_ONNX_RULE_FILE(stem) extern const ImportRule kImportRule_##stem;
#include "onnx_rules.inc"
#undef SPRUCE_ONNX_RULE_FILE

namespace {

const std::map<std::string, const ImportRule*>& rules_by_op_type() {
  static const std::map<std::string, const ImportRule*> rules = [] {
    std::map<std::string, const ImportRule*> m;
    const ImportRule* all[] = {
#define SPRUCE_ONNX_RULE_FILE(stem) &kImportRule_##stem,
#include "onnx_rules.inc"
#undef SPRUCE_ONNX_RULE_FILE
    };
    for (const ImportRule* rule : all) {
      for (const std::string& op : rule->op_types) m.emplace(op, rule);
    }
    return m;
  }();
  return rules;
}

}  // namespace

const ImportRule* import_rule(const std::string& op_type) {
  const auto& rules = rules_by_op_type();
  const auto it = rules.find(op_type);
  return it == rules.end() ? nullptr : it->second;
}

const std::vector<std::string>& imported_op_types() {
  static const std::vector<std::string> types = [] {
    std::vector<std::string> v;
    for (const auto& entry : rules_by_op_type()) v.push_back(entry.first);
    return v;
  }();
  return types;
}

ModelDef Importer::run() {
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
  report_->folded.insert(report_->folded.end(), fusions.begin(), fusions.end());
  count_readers(nodes, graph);
  read_inputs(graph);
  for (size_t i = 0; i < nodes.size(); ++i) {
    import_node(nodes[i], static_cast<int>(i));
  }
  read_outputs(graph);
  remove_unused();
  choose_formats();
  // Symbolic sizes (dynamic dimensions told apart while importing) are
  // stored as -1: the runtime learns them from the inputs.
  for (ValueDef& v : model_.values) {
    for (int64_t& d : v.shape) d = d < 0 ? -1 : d;
  }
  return std::move(model_);
}

// ------------------------------------------------------------ helpers
[[noreturn]] void Importer::fail(const std::string& message) const {
  throw Error(path_ + ": " + message);
}

[[noreturn]] void Importer::fail(const onnx::NodeProto& node,
                                 const std::string& message) const {
  fail(node.op_type() + " node '" + node.name() + "': " + message);
}

std::string Importer::basename(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void Importer::count_readers(const std::vector<onnx::NodeProto>& nodes,
                             const onnx::GraphProto& graph) {
  for (const onnx::NodeProto& node : nodes) {
    for (const std::string& in : node.input()) ++readers_[in];
  }
  for (const onnx::ValueInfoProto& out : graph.output()) ++readers_[out.name()];
}

bool Importer::is_constant(const std::string& name) const {
  return constants_.count(name) != 0;
}

DataType Importer::dtype_of(const std::string& name) const {
  const auto known = dtypes_.find(name);
  if (known != dtypes_.end()) return known->second;
  const auto c = constants_.find(name);
  return c != constants_.end() ? c->second.dtype : DataType::kFloat32;
}

namespace {

// The element type of output `k` of `node` under ONNX's type rules, given
// its inputs' (`input_type`): comparisons and logic give bool, index ops
// int64, casts their target, and the rest their first data input's type.
// None for a Constant, whose value carries its own.
template <class InputType>
std::optional<DataType> output_type(const onnx::NodeProto& node, int k,
                                    const InputType& input_type) {
  static const std::set<std::string> kBool = {
      "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not",
      "And",   "Or",   "Xor",     "IsNaN",       "IsInf"};
  static const std::set<std::string> kInt64 = {"ArgMax", "ArgMin", "Shape",
                                               "Size", "NonZero"};
  const std::string& op = node.op_type();
  if (op == "Constant") return std::nullopt;
  if (kBool.count(op) != 0) return DataType::kBool;
  if (kInt64.count(op) != 0 || (op == "TopK" && k == 1)) {
    return DataType::kInt64;
  }
  auto attribute_type = [&](const char* name) -> std::optional<DataType> {
    for (const onnx::AttributeProto& a : node.attribute()) {
      if (a.name() != name) continue;
      return a.has_t() ? data_type_of_onnx(a.t().data_type())
                       : data_type_of_onnx(static_cast<int>(a.i()));
    }
    return std::nullopt;
  };
  if (op == "Cast") return attribute_type("to");
  if (op == "ConstantOfShape") {
    return attribute_type("value").value_or(DataType::kFloat32);
  }
  if (op == "CastLike" && node.input_size() > 1) {
    return input_type(node.input(1));
  }
  if (op == "Where" && node.input_size() > 1) return input_type(node.input(1));
  if (op == "OneHot" && node.input_size() > 2) return input_type(node.input(2));
  for (const std::string& in : node.input()) {
    if (!in.empty()) return input_type(in);
  }
  return DataType::kFloat32;
}

}  // namespace

const Constant& Importer::constant(const onnx::NodeProto& node,
                                   const std::string& name) const {
  const auto it = constants_.find(name);
  if (it == constants_.end()) {
    fail(node, "input '" + name + "' must be a constant (an initializer)");
  }
  return it->second;
}

uint32_t Importer::value_of(const onnx::NodeProto& node,
                            const std::string& name) {
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

uint32_t Importer::add_value(const std::string& name, Shape shape) {
  model_.values.push_back({name, std::move(shape)});
  const auto id = static_cast<uint32_t>(model_.values.size() - 1);
  values_[name] = id;
  return id;
}

int64_t Importer::attr_int(const onnx::NodeProto& node, const std::string& name,
                           int64_t fallback) {
  for (const auto& a : node.attribute()) {
    if (a.name() == name) return a.i();
  }
  return fallback;
}

float Importer::attr_float(const onnx::NodeProto& node, const std::string& name,
                           float fallback) {
  for (const auto& a : node.attribute()) {
    if (a.name() != name) continue;
    // An int attribute (IsInf's detect_negative) as its value.
    return a.type() == onnx::AttributeProto::INT ? static_cast<float>(a.i())
                                                 : a.f();
  }
  return fallback;
}

const onnx::AttributeProto* Importer::attr(const onnx::NodeProto& node,
                                           const std::string& name) {
  for (const auto& a : node.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

// ------------------------------------------------------------ graph ends
void Importer::freeze_inputs(const onnx::GraphProto& graph) {
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

void Importer::read_inputs(const onnx::GraphProto& graph) {
  for (const onnx::ValueInfoProto& in : graph.input()) {
    if (is_constant(in.name())) continue;  // initializers listed as inputs
    const auto& type = in.type();
    const int elem =
        type.has_tensor_type() ? type.tensor_type().elem_type() : 0;
    const std::optional<DataType> dtype = data_type_of_onnx(elem);
    if (!dtype) {
      fail("input '" + in.name() + "' is " +
           (type.has_tensor_type() ? "of data type " + onnx_type_name(elem)
                                   : std::string("not a tensor")) +
           "; spruce takes float32, integer and bool inputs");
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
        it =
            symbols_.emplace(symbol, -2 - static_cast<int64_t>(symbols_.size()))
                .first;
        symbol_origin_[it->second] = {id, shape.size()};
      }
      shape.push_back(it->second);
    }
    model_.inputs.push_back(add_value(in.name(), shape));
    model_.values.back().dtype = *dtype;
    dtypes_[in.name()] = *dtype;
  }
  if (model_.inputs.empty()) fail("model has no non-constant inputs");
}

void Importer::read_outputs(const onnx::GraphProto& graph) {
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
uint32_t Importer::named_output(const std::string& name, uint32_t value) {
  const bool is_input = std::find(model_.inputs.begin(), model_.inputs.end(),
                                  value) != model_.inputs.end();
  const bool is_output = std::find(model_.outputs.begin(), model_.outputs.end(),
                                   value) != model_.outputs.end();
  if (model_.values[value].name == name && !is_input && !is_output) {
    model_.values[value].dtype = dtype_of(name);
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
  const uint32_t copy = add_value(name, source.shape);
  model_.values[copy].dtype = dtype_of(name);
  n.outputs = {copy};
  model_.nodes.push_back(std::move(n));
  return copy;
}

// ------------------------------------------------------------ nodes
void Importer::import_node(const onnx::NodeProto& node, int index) {
  onnx::NodeProto named = node;
  if (named.name().empty()) {
    named.set_name(node.op_type() + "_" + std::to_string(index));
  }
  if (!node.domain().empty() && node.domain() != "ai.onnx") {
    fail(named, "operator domain '" + node.domain() + "' is not supported");
  }
  const std::string& op = node.op_type();
  const ImportRule* rule = import_rule(op);
  if (rule == nullptr) fail(named, "unsupported op '" + op + "'");
  if (node.output_size() < 1 ||
      (node.output(0).empty() && !rule->unnamed_first_output())) {
    fail(named, "has no output");
  }
  for (const std::string& in : node.input()) {
    if (in.empty() && !rule->empty_inputs()) {
      fail(named, "optional (empty) inputs are not supported here");
    }
  }
  // Output types first, from the inputs': the rule may fold the node away.
  for (int k = 0; k < node.output_size(); ++k) {
    const std::optional<DataType> t = output_type(
        node, k, [&](const std::string& in) { return dtype_of(in); });
    if (t && !node.output(k).empty()) dtypes_[node.output(k)] = *t;
  }
  if (rule->before_folding()) return (this->*rule->import)(named);
  if (track_shape_values(named)) return;
  if (try_fold(named)) return;
  const size_t first = model_.nodes.size();
  (this->*rule->import)(named);
  fold_constant_nodes(first);
  if (rule->elementwise()) restore_broadcast_shape(named);
}

// The runtime stores a scalar as [1]; an elementwise op folded from
// constants gets back the shape ONNX gives it (a scalar stays a scalar, so
// that an Unsqueeze of it is [1], as in Swin's padding arithmetic).
void Importer::restore_broadcast_shape(const onnx::NodeProto& node) {
  const auto out = constants_.find(node.output(0));
  if (out == constants_.end()) return;
  Shape shape;
  for (const std::string& in : node.input()) {
    if (in.empty()) continue;
    const auto c = constants_.find(in);
    if (c == constants_.end() ||
        !broadcast_shape(shape, c->second.shape, &shape)) {
      return;
    }
  }
  if (element_count(shape) == element_count(out->second.shape)) {
    out->second.shape = std::move(shape);
  }
}

// Folds a node whose inputs are all constants. Returns false if any input
// is an activation.
bool Importer::try_fold(const onnx::NodeProto& node) {
  if (node.input_size() == 0) return false;
  // Zeros of a known shape (PyTorch's F.pad builds its pads list with
  // ConstantOfShape) and sizes known at conversion are constants when
  // everything else the node reads is (Swin's attention mask is built from
  // both).
  auto known = [&](const std::string& in) {
    const View* v = view(in);
    return v != nullptr && all_sizes_known(*v) &&
           (v->kind == View::Kind::kShapeValue ||
            (v->kind == View::Kind::kZeros &&
             element_count(v->sym) <= kMaxActivationElements));
  };
  for (const std::string& in : node.input()) {
    if (!in.empty() && !is_constant(in) && !known(in)) return false;
  }
  for (const std::string& in : node.input()) {
    if (in.empty() || is_constant(in)) continue;
    const View& v = views_.at(in);
    Constant c;
    c.dtype = dtype_of(in);
    c.is_float = !is_integer(c.dtype);
    if (v.kind == View::Kind::kShapeValue) {
      c.is_float = false;
      c.i = v.sym;
      if (!v.scalar) c.shape = {static_cast<int64_t>(c.i.size())};
    } else {
      c.shape = v.sym;
      if (c.is_float) {
        c.f.resize(element_count(c.shape));
      } else {
        c.i.resize(element_count(c.shape));
      }
    }
    views_.erase(in);
    constants_[in] = std::move(c);
  }
  const std::string& op = node.op_type();
  if (op == "Reshape" || op == "Unsqueeze" || op == "Squeeze") {
    return fold_reshape(node);
  }
  if (op != "Identity" && op != "Cast") {
    // A pruned weight exported with its mask (weight_orig * weight_mask)
    // keeps the weight's name.
    if (op == "Mul" && node.input_size() == 2 &&
        (ends_with(node.input(0), "_orig") ||
         ends_with(node.input(1), "_orig"))) {
      const std::string& orig =
          ends_with(node.input(0), "_orig") ? node.input(0) : node.input(1);
      weight_names_[node.output(0)] = orig.substr(0, orig.size() - 5);
      report_->folded.push_back("pruning mask " + node.input(0) + " * " +
                                node.input(1) + " applied ('" + node.name() +
                                "')");
    }
    // Imported as its op on Constant nodes, then evaluated by the runtime's
    // own implementation (fold_constant_nodes).
    return false;
  }
  if (node.input_size() != 1) {
    fail(node, "expected 1 input, has " + std::to_string(node.input_size()));
  }
  // Identity and Cast only relabel or convert a constant's elements: done
  // here, exact on int64 (Slice ends of INT64_MAX), which the runtime's
  // float tensors are not.
  constants_[node.output(0)] = op == "Cast"
                                   ? cast(node, constants_.at(node.input(0)))
                                   : constants_.at(node.input(0));
  report_->folded.push_back("folded " + op + " '" + node.name() + "'");
  return true;
}

bool Importer::ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Constant Importer::cast(const onnx::NodeProto& node, const Constant& in) const {
  const int64_t to = attr_int(node, "to", 0);
  const std::optional<DataType> target =
      data_type_of_onnx(static_cast<int>(to));
  if (!target) {
    fail(node, "constant Cast to " + onnx_type_name(static_cast<int>(to)) +
                   " is not supported");
  }
  Constant out;
  out.shape = in.shape;
  out.dtype = *target;
  out.is_float = *target == DataType::kFloat32;
  if (out.is_float) {
    out.f = in.is_float ? in.f : std::vector<float>(in.i.begin(), in.i.end());
    return out;
  }
  // To an integer type toward zero, to bool by non-zero; from an integer
  // type unchanged (not wrapped into a narrower type's range).
  const bool to_bool = *target == DataType::kBool;
  if (in.is_float) {
    for (float v : in.f) {
      if (!to_bool && !std::isfinite(v)) {
        fail(node, "constant Cast of a NaN or infinity to an integer type");
      }
      out.i.push_back(to_bool ? v != 0.0f
                              : static_cast<int64_t>(std::trunc(v)));
    }
  } else {
    for (int64_t v : in.i) out.i.push_back(to_bool ? v != 0 : v);
  }
  return out;
}

// A Linear node y = x · W^T + b with W [out, in] (row-major copy given).
void Importer::add_linear(const onnx::NodeProto& node, uint32_t x,
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
  n.op = OpKind::kLinear;
  n.inputs = {x};
  n.weights = {static_cast<uint32_t>(model_.weights.size() - 1)};
  Shape ys = xs;
  ys.back() = out;
  n.outputs = {add_value(node.output(0), ys)};
  model_.nodes.push_back(std::move(n));
}

std::string Importer::weight_name(const std::string& tensor) const {
  const auto it = weight_names_.find(tensor);
  return it != weight_names_.end() ? it->second : tensor;
}

void Importer::set_bias(const onnx::NodeProto& node, NodeDef* linear,
                        const Constant& c, float scale,
                        const std::string& name) {
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

// The node that produced `tensor` if it is one of `ops` and its result may
// be rewritten in place (this is its only reader and not a model output).
NodeDef* Importer::fusable_producer(const std::string& tensor,
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

// Where a following Relu or Clip(0, 6) can be fused.
NodeDef* Importer::fusable_activation_target(const std::string& tensor) {
  NodeDef* n =
      fusable_producer(tensor, {OpKind::kLinear, OpKind::kConv, OpKind::kAdd});
  return n != nullptr && activation_of(n->attrs) == kernels::Activation::kNone
             ? n
             : nullptr;
}

// Renames the fused node's output to the consumer's output.
void Importer::take_over_output(NodeDef* n, const std::string& new_name) {
  ValueDef& v = model_.values[n->outputs[0]];
  values_.erase(v.name);
  v.name = new_name;
  values_[new_name] = n->outputs[0];
}

// kernel_shape, strides, pads, dilations and auto_pad of a 2-D Conv or
// pool on input `xs` (NCHW).
SpatialParams Importer::spatial_params(const onnx::NodeProto& node,
                                       const Shape& xs,
                                       const Shape& kernel) const {
  if (xs.size() != 4 && xs.size() != 5) {
    fail(node,
         "only 2-D and 3-D (NCHW, NCDHW) inputs are supported, input is " +
             to_string(xs));
  }
  SpatialParams p;
  p.rank = static_cast<uint32_t>(xs.size() - 2);
  const size_t rank = p.rank;
  auto ints = [&](const char* name, size_t count, int64_t fallback, int64_t min,
                  uint32_t* out) {
    const onnx::AttributeProto* a = attr(node, name);
    if (a != nullptr && static_cast<size_t>(a->ints_size()) != count) {
      fail(node, std::string(name) + " must have " + std::to_string(count) +
                     " values for a " + std::to_string(rank) + "-D window");
    }
    for (size_t k = 0; k < count; ++k) {
      const int64_t v = a != nullptr ? a->ints(static_cast<int>(k)) : fallback;
      if (v < min || v > (int64_t{1} << 16)) {
        fail(node, std::string(name) + " value " + std::to_string(v) +
                       " is not supported");
      }
      out[k] = static_cast<uint32_t>(v);
    }
  };
  if (kernel.empty()) {
    ints("kernel_shape", rank, 0, 1, p.kernel);
    if (attr(node, "kernel_shape") == nullptr) {
      fail(node, "needs kernel_shape");
    }
  } else {
    if (const onnx::AttributeProto* a = attr(node, "kernel_shape")) {
      bool same = static_cast<size_t>(a->ints_size()) == rank;
      for (size_t k = 0; same && k < rank; ++k) {
        same = a->ints(static_cast<int>(k)) == kernel[k];
      }
      if (!same) fail(node, "kernel_shape does not match the weight");
    }
    for (size_t k = 0; k < rank; ++k) {
      p.kernel[k] = static_cast<uint32_t>(kernel[k]);
    }
  }
  ints("strides", rank, 1, 1, p.strides);
  ints("dilations", rank, 1, 1, p.dilations);
  ints("pads", 2 * rank, 0, 0, p.pads);
  const onnx::AttributeProto* auto_pad = attr(node, "auto_pad");
  const std::string mode = auto_pad != nullptr ? auto_pad->s() : "NOTSET";
  if (mode == "VALID") {
    std::fill(std::begin(p.pads), std::end(p.pads), 0u);
  } else if (mode == "SAME_UPPER" || mode == "SAME_LOWER") {
    for (size_t a = 0; a < rank; ++a) {
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
      p.pads[a + rank] =
          static_cast<uint32_t>(mode == "SAME_UPPER" ? large : small);
    }
  } else if (mode != "NOTSET") {
    fail(node, "auto_pad '" + mode + "' is not supported");
  }
  return p;
}

Shape Importer::window_output(const onnx::NodeProto& node, const Shape& xs,
                              int64_t channels, const SpatialParams& p) const {
  Shape y = {xs[0], channels};
  for (uint32_t a = 0; a < p.rank; ++a) {
    y.push_back(p.output_size(static_cast<int>(a), xs[2 + a]));
    if (xs[2 + a] >= 0 && y.back() < 1) {
      fail(node, "input " + to_string(xs) + " is smaller than the window");
    }
  }
  return y;
}

void Importer::add_conv(const onnx::NodeProto& node, uint32_t x,
                        const SpatialParams& p, Shape w_shape,
                        std::vector<float> w, std::vector<float> bias,
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
  n.outputs = {add_value(node.output(0),
                         window_output(node, model_.values[x].shape, out, p))};
  model_.nodes.push_back(std::move(n));
}

std::string Importer::describe(const View& v) const {
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
      return "rows [" + std::to_string(v.start) + ", " + std::to_string(v.end) +
             ") of '" + model_.values[v.source].name + "' (Slice '" + v.node +
             "')";
    case View::Kind::kZeros:
      return "zeros shaped at run time (node '" + v.node + "')";
    case View::Kind::kBroadcastRow:
      return "row 0 of an embedding looked up by zeros (node '" + v.node + "')";
    case View::Kind::kShapeValue:
      break;
  }
  return "computed from tensor shapes (node '" + v.node + "')";
}

const Importer::View* Importer::view(const std::string& name) const {
  const auto it = views_.find(name);
  return it != views_.end() ? &it->second : nullptr;
}

bool Importer::is_view(const std::string& name, View::Kind kind) const {
  const View* v = view(name);
  return v != nullptr && v->kind == kind;
}

Importer::View& Importer::add_view(const onnx::NodeProto& node,
                                   View::Kind kind) {
  View& v = views_[node.output(0)];
  v.kind = kind;
  v.node = node.name();
  return v;
}

int64_t Importer::axis_attr(const onnx::NodeProto& node,
                            const std::string& name, int64_t fallback,
                            const Shape& shape) const {
  int64_t axis = attr_int(node, name, fallback);
  const auto rank = static_cast<int64_t>(shape.size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) {
    fail(node, name + " out of range for input " + to_string(shape));
  }
  return axis;
}

std::vector<int64_t> Importer::attr_ints(const onnx::NodeProto& node,
                                         const std::string& name) {
  const onnx::AttributeProto* a = attr(node, name);
  if (a == nullptr) return {};
  return {a->ints().begin(), a->ints().end()};
}

// An integer list given as a constant input (newer opsets) or, when that
// input is absent, as an attribute (older ones).
std::vector<int64_t> Importer::ints_input_or_attr(
    const onnx::NodeProto& node, int input, const std::string& name) const {
  if (node.input_size() > input && !node.input(input).empty()) {
    const std::optional<std::vector<int64_t>> v = int_values(node.input(input));
    if (!v) {
      fail(node, "'" + name +
                     "' must be integer constants or computed "
                     "from tensor shapes");
    }
    return *v;
  }
  return attr_ints(node, name);
}

bool Importer::all_zero(const Constant& c) const {
  return std::all_of(c.f.begin(), c.f.end(),
                     [](float v) { return v == 0.0f; }) &&
         std::all_of(c.i.begin(), c.i.end(), [](int64_t v) { return v == 0; });
}

// The shape of a tensor by name, whatever holds it.
std::optional<Shape> Importer::shape_of(const std::string& name) const {
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
  // A shape value is a vector of its sizes (a scalar when it is one).
  if (w->kind == View::Kind::kShapeValue && w->sym_known) {
    return w->scalar ? Shape{} : Shape{static_cast<int64_t>(w->sym.size())};
  }
  if ((w->kind == View::Kind::kZeros || w->kind == View::Kind::kBroadcastRow) &&
      w->sym_known) {
    return w->sym;
  }
  return std::nullopt;
}

// The integers a constant or a shape value holds, if known.
std::optional<std::vector<int64_t>> Importer::int_values(
    const std::string& name, bool* scalar) const {
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
  // Whole numbers in int64's range only: a float past it (a folded
  // product of sizes that overflowed) has no integer value.
  constexpr float kInt64End = 9223372036854775808.0f;  // 2^63
  for (float f : c.f) {
    if (f != std::floor(f) || !(f >= -kInt64End && f < kInt64End)) {
      return std::nullopt;
    }
    out.push_back(static_cast<int64_t>(f));
  }
  return out;
}

// Evaluates shape arithmetic (Gather, Unsqueeze, Squeeze, Concat, Cast,
// Slice, elementwise on known sizes) on integer vectors; leaves `out`
// unknown when it cannot.
void Importer::evaluate_shape_op(const onnx::NodeProto& node, View* out) const {
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
        (in.size() > 4 && !in[4].empty() && in[4] != std::vector<int64_t>{1})) {
      return;
    }
    const auto n = static_cast<int64_t>(in[0].size());
    int64_t b = in[1][0] < 0 ? in[1][0] + n : in[1][0];
    int64_t e = in[2][0] < 0 ? in[2][0] + n : in[2][0];
    b = std::clamp<int64_t>(b, 0, n);
    e = std::clamp<int64_t>(e, 0, n);
    for (int64_t k = b; k < e; ++k) r.push_back(in[0][static_cast<size_t>(k)]);
  } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    if (in.size() != 2) return;
    const size_t n = std::max(in[0].size(), in[1].size());
    if ((in[0].size() != 1 && in[0].size() != n) ||
        (in[1].size() != 1 && in[1].size() != n)) {
      return;
    }
    for (size_t k = 0; k < n; ++k) {
      const int64_t a = in[0][in[0].size() == 1 ? 0 : k];
      const int64_t b = in[1][in[1].size() == 1 ? 0 : k];
      if (a >= 0 && b >= 0 && !(op == "Div" && b == 0)) {
        // A value that overflows is no size: unknown, like any other.
        int64_t v = 0;
        bool overflow = false;
        if (op == "Add") {
          overflow = __builtin_add_overflow(a, b, &v);
        } else if (op == "Mul") {
          overflow = __builtin_mul_overflow(a, b, &v);
        } else {
          v = op == "Sub" ? a - b : a / b;
        }
        if (overflow) return;
        r.push_back(v);
        continue;
      }
      // A product or sum of sizes with a dynamic one (the batch times the
      // heads) is a size of its own, at least 1: a fresh symbol, which a
      // Reshape infers and anything needing its value refuses. A
      // difference or quotient could be anything: unknown.
      const bool a_sym = a <= -2, b_sym = b <= -2;
      if (op == "Mul" && (a == 0 || b == 0)) {
        r.push_back(0);
      } else if (op == "Mul" && a_sym != b_sym && (a >= 1 || b >= 1)) {
        r.push_back(a_sym ? scaled_symbol(a, b) : scaled_symbol(b, a));
      } else if (op == "Div" && a_sym && b >= 1 &&
                 symbol_factor(a).second % b == 0) {
        const auto [base, factor] = symbol_factor(a);
        r.push_back(scaled_symbol(base, factor / b));
      } else if (op == "Mul" && (a_sym || b_sym) && (a_sym || a >= 1) &&
                 (b_sym || b >= 1)) {
        r.push_back(fresh_symbol());
      } else if (op == "Add" && (a_sym || b_sym) && (a_sym || a >= 0) &&
                 (b_sym || b >= 0)) {
        r.push_back(a == 0 ? b : b == 0 ? a : fresh_symbol());
      } else {
        return;
      }
    }
    scalar = scalars[0] && scalars[1];
  } else if (op == "Equal" || op == "Where") {
    // expand(n, -1, -1) exports as Where(Equal(sizes, -1), ones, sizes): a
    // symbolic size (<= -2, at least 1 when known) equals itself and no
    // constant below 1. Integers otherwise compare as they are.
    const size_t first = op == "Where" ? 1 : 0;
    if (in.size() != first + 2) return;
    size_t n = 0;
    for (const auto& v : in) n = std::max(n, v.size());
    for (const auto& v : in) {
      if (v.size() != 1 && v.size() != n) return;
    }
    auto at = [&](size_t input, size_t k) {
      return in[input][in[input].size() == 1 ? 0 : k];
    };
    for (size_t k = 0; k < n; ++k) {
      if (op == "Where") {
        const int64_t c = at(0, k);
        if (c != 0 && c != 1) return;
        r.push_back(c != 0 ? at(1, k) : at(2, k));
        continue;
      }
      const int64_t a = at(0, k), b = at(1, k);
      const bool a_sym = a <= -2, b_sym = b <= -2;
      if (a_sym && b_sym && a != b) return;  // two unknown sizes
      if ((a_sym && b > 0 && !b_sym) || (b_sym && a > 0 && !a_sym)) return;
      r.push_back(a == b ? 1 : 0);
    }
    scalar = std::all_of(scalars.begin() + static_cast<std::ptrdiff_t>(first),
                         scalars.end(), [](bool b) { return b; });
  } else {
    return;
  }
  out->sym = std::move(r);
  out->scalar = scalar;
  out->sym_known = true;
}

int64_t Importer::fresh_symbol() const { return next_fresh_symbol_--; }

bool Importer::all_sizes_known(const View& v) {
  return v.sym_known && std::all_of(v.sym.begin(), v.sym.end(),
                                    [](int64_t d) { return d >= 0; });
}

std::pair<int64_t, int64_t> Importer::symbol_factor(int64_t symbol) const {
  const auto it = scaled_.find(symbol);
  return it != scaled_.end() ? it->second : std::make_pair(symbol, int64_t{1});
}

int64_t Importer::scaled_symbol(int64_t symbol, int64_t factor) const {
  const auto [base, k] = symbol_factor(symbol);
  int64_t product = 0;
  if (__builtin_mul_overflow(k, factor, &product)) return fresh_symbol();
  if (product == 1) return base;
  const auto known = scaled_ids_.find({base, product});
  if (known != scaled_ids_.end()) return known->second;
  const int64_t s = fresh_symbol();
  scaled_[s] = {base, product};
  scaled_ids_[{base, product}] = s;
  return s;
}

bool Importer::track_shape_values(const onnx::NodeProto& node) {
  const std::string& op = node.op_type();
  const std::string& first = node.input_size() > 0 ? node.input(0) : "";
  const bool zeros_in = is_view(first, View::Kind::kZeros) ||
                        (is_constant(first) && all_zero(constants_.at(first)));
  // A Slice of zeros whose shape is known folds like any constant.
  const bool known_zeros =
      is_view(first, View::Kind::kZeros) && all_sizes_known(*view(first));
  if ((op == "Expand" || op == "Slice") && zeros_in &&
      !(op == "Slice" && (is_constant(first) || known_zeros))) {
    // Expand: the zeros' shape when its target and input are known (sizes
    // <= -2 symbolic), for a consumer that materializes them.
    std::optional<Shape> from = shape_of(first);
    if (const View* z = view(first); z != nullptr && z->sym_known) {
      from = z->sym;
    }
    const std::optional<std::vector<int64_t>> target =
        op == "Expand" ? int_values(node.input(1)) : std::nullopt;
    View& v = add_view(node, View::Kind::kZeros);
    Shape shape;
    if (from && target && broadcast_shape(*from, *target, &shape)) {
      v.sym = std::move(shape);
      v.sym_known = true;
    }
    return true;
  }
  // Ops whose later inputs are sizes by design look only at their data.
  const bool data_only = op == "Reshape" || op == "Expand" || op == "Slice" ||
                         op == "Unsqueeze" || op == "Squeeze" ||
                         op == "Split" || op == "Tile" || op == "Resize" ||
                         op == "Upsample";
  bool from_shapes = false;
  bool from_activations = false;
  for (int k = 0; k < node.input_size(); ++k) {
    const std::string& in = node.input(k);
    if (in.empty() || is_constant(in) || (data_only && k > 0)) continue;
    (is_view(in, View::Kind::kShapeValue) ? from_shapes : from_activations) =
        true;
  }
  if (!from_shapes) return false;
  // Sizes all known at conversion (the head size under a dynamic batch) are
  // constants where an op reads them with activations, or where shape
  // arithmetic cannot evaluate the op (Pow, Sqrt): the op then imports (or
  // folds) like any other.
  auto known_sizes_as_constants = [&] {
    for (const std::string& in : node.input()) {
      const View* v = view(in);
      if (v == nullptr || v->kind != View::Kind::kShapeValue) continue;
      if (!all_sizes_known(*v)) return false;
    }
    for (const std::string& in : node.input()) {
      const View* v = view(in);
      if (v == nullptr || v->kind != View::Kind::kShapeValue) continue;
      Constant c;
      c.is_float = false;
      c.dtype = DataType::kInt64;
      c.i = v->sym;
      if (!v->scalar) c.shape = {static_cast<int64_t>(c.i.size())};
      views_.erase(in);
      constants_[in] = std::move(c);
    }
    return true;
  };
  if (from_activations) {
    if (known_sizes_as_constants()) return false;
    fail(node,
         "mixes tensor shapes with activations; shape arithmetic is "
         "folded only where it computes sizes");
  }
  View result;
  evaluate_shape_op(node, &result);
  if (!result.sym_known && known_sizes_as_constants()) return false;
  View& v = add_view(node, View::Kind::kShapeValue);
  v.sym = std::move(result.sym);
  v.sym_known = result.sym_known;
  v.scalar = result.scalar;
  return true;
}

// The recurrent layer (LSTM, GRU, RNN) whose Y is `name`, if `name` has no
// other reader.
NodeDef* Importer::sole_recurrent_y(const std::string& name) {
  const auto it = values_.find(name);
  if (it == values_.end() || readers_[name] != 1) return nullptr;
  const auto lstm = recurrent_of_y_.find(it->second);
  return lstm != recurrent_of_y_.end() ? &model_.nodes[lstm->second] : nullptr;
}

void Importer::rename_value(uint32_t id, const std::string& new_name) {
  ValueDef& v = model_.values[id];
  values_.erase(v.name);
  v.name = new_name;
  values_[new_name] = id;
}

// ------------------------------------------------------------ tensor ops
// `name` as an activation: a value, a materialized view, or a constant
// made into a Constant node (once per constant).
uint32_t Importer::operand(const onnx::NodeProto& node,
                           const std::string& name) {
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
    constant_weight_of_[id] = n.weights[0];
    model_.nodes.push_back(std::move(n));
    return id;
  }
  return value_of(node, name);
}

uint32_t Importer::symbols_as_dims(const onnx::NodeProto& node,
                                   std::vector<int64_t>* dims) const {
  uint32_t ref = kNoValue;
  for (int64_t& d : *dims) {
    if (d >= 0) continue;
    const auto origin = symbol_origin_.find(d);
    if (d == -1 || origin == symbol_origin_.end()) {
      fail(node,
           "a size is known only at run time and not traced to an "
           "input's dimension");
    }
    if (ref != kNoValue && ref != origin->second.first) {
      fail(node, "its sizes come from two different inputs");
    }
    ref = origin->second.first;
    d = -2 - static_cast<int64_t>(origin->second.second);
  }
  return ref;
}

// Turns a view into a node when a general op reads it.
std::optional<uint32_t> Importer::materialize(const onnx::NodeProto& consumer,
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
      ys[0] = ys[0] >= 0 ? std::min(v.end, ys[0]) - v.start
                         : (v.end < (int64_t{1} << 40) ? v.end - v.start : -1);
      n.op = OpKind::kSlice;
      n.inputs = {v.source};
      n.attrs.set_ints(
          "slices",
          {0, v.start, std::min<int64_t>(v.end, int64_t{1} << 40), 1});
      n.attrs.set_ints("end_dims", {-1});
      break;
    }
    case View::Kind::kZeros: {
      if (!v.sym_known ||
          std::any_of(v.sym.begin(), v.sym.end(),
                      [](int64_t d) { return d == 0 || d == -1; })) {
        return std::nullopt;
      }
      // Known sizes: a constant. Dynamic ones (a batch): zeros of size 1
      // there, expanded to the input's size at run time.
      Shape known = v.sym;
      for (int64_t& d : known) d = std::max<int64_t>(d, 1);
      n.op = OpKind::kConstant;
      n.weights = {add_weight(name, known,
                              std::vector<float>(element_count(known), 0.0f))};
      ys = v.sym;
      if (known != v.sym) {
        std::vector<int64_t> dims = v.sym;
        const uint32_t ref = symbols_as_dims(consumer, &dims);
        const uint32_t zeros = add_value(name + "/zeros", known);
        n.outputs = {zeros};
        model_.nodes.push_back(std::move(n));
        n = NodeDef();
        n.name = v.node;
        n.op = OpKind::kExpand;
        n.inputs = {zeros, ref};
        n.attrs.set_ints("shape", dims);
      }
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
      report_->folded.push_back("Gather '" + v.node +
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

void Importer::add_simple(const onnx::NodeProto& node, NodeDef n, Shape shape) {
  n.name = node.name();
  n.outputs = {add_value(node.output(0), std::move(shape))};
  model_.nodes.push_back(std::move(n));
}

Shape Importer::broadcast_or_fail(const onnx::NodeProto& node,
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

std::vector<int64_t> Importer::normalized_axes(const onnx::NodeProto& node,
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

// a · b for sizes known so far (-1 once either is unknown); a product past
// 2^62 is refused rather than overflowing (a hostile shape).
int64_t Importer::known_product(const onnx::NodeProto& node, int64_t a,
                                int64_t b) const {
  if (a <= 0 || b <= 0) return -1;
  int64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product) || product > (int64_t{1} << 62)) {
    fail(node, "sizes multiply past 2^62");
  }
  return product;
}

// Reshape / Squeeze / Unsqueeze of a constant.
bool Importer::fold_reshape(const onnx::NodeProto& node) {
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
    fail(node,
         "cannot reshape constant " + to_string(xs) + " into " + to_string(ys));
  }
  c.shape = ys;
  constants_[node.output(0)] = std::move(c);
  report_->folded.push_back("folded " + op + " '" + node.name() + "'");
  return true;
}

uint32_t Importer::add_weight(const std::string& name, Shape shape,
                              std::vector<float> data) {
  WeightDef w;
  w.name = name;
  w.shape = std::move(shape);
  w.dense = std::move(data);
  model_.weights.push_back(std::move(w));
  return static_cast<uint32_t>(model_.weights.size() - 1);
}

// ------------------------------------------------------------ formats
// Each matrix of a Linear, Conv or recurrent layer gets its format; a
// bias (a vector: a Linear's, a recurrent direction's) is counted with the
// matrix before it.
void Importer::choose_formats() {
  for (const NodeDef& n : model_.nodes) {
    if (n.op == OpKind::kLinear || n.op == OpKind::kConv) {
      choose_format(n.name, n.weights[0],
                    {n.weights.begin() + 1, n.weights.end()});
    } else if (n.op == OpKind::kLstm || n.op == OpKind::kGru ||
               n.op == OpKind::kRnn) {
      for (size_t k = 0; k < n.weights.size(); ++k) {
        std::vector<uint32_t> biases;
        while (k + 1 + biases.size() < n.weights.size() &&
               model_.weights[n.weights[k + 1 + biases.size()]].shape.size() ==
                   1) {
          biases.push_back(n.weights[k + 1 + biases.size()]);
        }
        choose_format(n.name, n.weights[k], biases);
        k += biases.size();
      }
    }
  }
}

void Importer::choose_format(const std::string& node, uint32_t matrix,
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
std::optional<BsrMatrix> Importer::block_format(const float* dense, size_t rows,
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
  for (const auto& [br, bc] : kernels::kBlockShapes) {
    if (!fits(br, bc)) continue;
    BsrMatrix bsr = BsrMatrix::from_dense(dense, rows, cols, br, bc);
    const double fill = static_cast<double>(csr.nnz()) /
                        static_cast<double>(bsr.nnz_blocks() * br * bc);
    if (fill >= options_.min_block_fill) return bsr;
  }
  return std::nullopt;
}

// ------------------------------------------------------------ folding
void Importer::fold_constant_nodes(size_t first) {
  for (size_t i = first; i < model_.nodes.size(); ++i) {
    const NodeDef& n = model_.nodes[i];
    if (n.op == OpKind::kConstant || n.inputs.empty()) continue;
    bool known = true;
    for (uint32_t v : n.inputs) {
      known = known && (v == kNoValue || constant_weight_of_.count(v) != 0);
    }
    for (uint32_t w : n.weights) {
      known = known && model_.weights[w].format == WeightFormat::kDense;
    }
    if (!known) continue;
    // A graph of just this node: its inputs' and outputs' values, its own
    // weights, views of the dense data.
    Graph g;
    NodeDesc node = n;
    std::vector<Tensor> inputs;
    auto local_value = [&](uint32_t v) {
      if (v == kNoValue) return kNoValue;
      g.values.push_back({model_.values[v].name, model_.values[v].shape,
                          DataType::kFloat32});
      return static_cast<uint32_t>(g.values.size() - 1);
    };
    for (uint32_t& v : node.inputs) {
      if (v != kNoValue) {
        const WeightDef& w = model_.weights[constant_weight_of_.at(v)];
        inputs.emplace_back(model_.values[v].shape, w.dense);
      } else {
        inputs.emplace_back();
      }
      v = local_value(v);
    }
    for (uint32_t& v : node.outputs) v = local_value(v);
    for (uint32_t& w : node.weights) {
      const WeightDef& d = model_.weights[w];
      WeightDesc desc;
      desc.name = d.name;
      desc.shape = d.shape;
      desc.values = d.dense.data();
      desc.value_count = d.dense.size();
      desc.stored_bytes = d.dense.size() * sizeof(float);
      g.weights.push_back(desc);
      w = static_cast<uint32_t>(g.weights.size() - 1);
    }
    std::vector<Tensor> results;
    try {
      results = evaluate_node(g, node, inputs);
    } catch (const Error& e) {
      fail("folding constant " + std::string(e.what()));
    }
    // The node becomes one Constant node per output.
    const NodeDef folded = model_.nodes[i];
    std::vector<NodeDef> constants;
    for (size_t k = 0; k < folded.outputs.size(); ++k) {
      const uint32_t out = folded.outputs[k];
      if (out == kNoValue) continue;
      const Tensor& t = results[k];
      NodeDef c;
      c.name = folded.name + (k == 0 ? "" : "/" + std::to_string(k));
      c.op = OpKind::kConstant;
      const std::string& name = model_.values[out].name;
      c.weights = {add_weight(weight_name(name), t.shape(),
                              std::vector<float>(t.data(), t.data() + t.size()))};
      c.outputs = {out};
      constant_weight_of_[out] = c.weights[0];
      Constant value;
      value.shape = t.shape();
      value.f.assign(t.data(), t.data() + t.size());
      constants_[name] = std::move(value);
      constants.push_back(std::move(c));
    }
    report_->folded.push_back("folded " + std::string(op_name(folded.op)) +
                              " '" + folded.name + "' (constant inputs)");
    model_.nodes.erase(model_.nodes.begin() + static_cast<std::ptrdiff_t>(i));
    model_.nodes.insert(model_.nodes.begin() + static_cast<std::ptrdiff_t>(i),
                        constants.begin(), constants.end());
    i += constants.size();
    --i;
  }
}

void Importer::remove_unused() {
  std::vector<size_t> readers(model_.values.size(), 0);
  for (const NodeDef& n : model_.nodes) {
    for (uint32_t v : n.inputs) {
      if (v != kNoValue) ++readers[v];
    }
  }
  for (uint32_t v : model_.outputs) ++readers[v];
  // Back to front, so a chain of dead nodes goes in one pass.
  std::vector<bool> dead(model_.nodes.size(), false);
  for (size_t i = model_.nodes.size(); i-- > 0;) {
    const NodeDef& n = model_.nodes[i];
    const bool used = std::any_of(
        n.outputs.begin(), n.outputs.end(),
        [&](uint32_t v) { return v != kNoValue && readers[v] > 0; });
    if (used) continue;
    dead[i] = true;
    for (uint32_t v : n.inputs) {
      if (v != kNoValue) --readers[v];
    }
  }
  if (std::none_of(dead.begin(), dead.end(), [](bool d) { return d; })) return;
  std::vector<NodeDef> live;
  for (size_t i = 0; i < model_.nodes.size(); ++i) {
    if (!dead[i]) live.push_back(std::move(model_.nodes[i]));
  }
  model_.nodes = std::move(live);
  // Weights and values by their new index (kNoValue: gone).
  std::vector<uint32_t> weight_index(model_.weights.size(), kNoValue);
  std::vector<uint32_t> value_index(model_.values.size(), kNoValue);
  std::vector<WeightDef> weights;
  std::vector<ValueDef> values;
  auto keep_value = [&](uint32_t& v) {
    if (v == kNoValue) return;
    if (value_index[v] == kNoValue) {
      value_index[v] = static_cast<uint32_t>(values.size());
      values.push_back(std::move(model_.values[v]));
    }
    v = value_index[v];
  };
  for (uint32_t& v : model_.inputs) keep_value(v);
  for (NodeDef& n : model_.nodes) {
    for (uint32_t& v : n.inputs) keep_value(v);
    for (uint32_t& v : n.outputs) keep_value(v);
    for (uint32_t& w : n.weights) {
      if (weight_index[w] == kNoValue) {
        weight_index[w] = static_cast<uint32_t>(weights.size());
        weights.push_back(std::move(model_.weights[w]));
      }
      w = weight_index[w];
    }
  }
  for (uint32_t& v : model_.outputs) keep_value(v);
  model_.weights = std::move(weights);
  model_.values = std::move(values);
  // The maps by index are stale from here on; nothing reads them after.
  values_.clear();
  constant_weight_of_.clear();
  recurrent_of_y_.clear();
}

// ------------------------------------------------------------ 1-D windows
bool Importer::import_1d_as_2d(
    const onnx::NodeProto& node,
    void (Importer::*import_2d)(const onnx::NodeProto&)) {
  const std::optional<Shape> xs = shape_of(node.input(0));
  if (!xs || xs->size() != 3 || views_.count(node.input(0)) != 0) {
    return false;
  }
  const bool conv =
      node.op_type() == "Conv" || node.op_type() == "ConvTranspose";
  if (conv && (!is_constant(node.input(1)) ||
               constants_.at(node.input(1)).shape.size() != 3)) {
    return false;
  }
  // x [N, C, L] → [N, C, 1, L] (sizes copied, so dynamic ones carry over).
  const uint32_t x = value_of(node, node.input(0));
  const std::string x2 = node.input(0) + "/2d";
  NodeDef up;
  up.name = node.name() + "/to_2d";
  up.op = OpKind::kReshape;
  up.inputs = {x};
  up.attrs.set_ints("shape", {-2, -3, 1, -4});
  up.outputs = {add_value(x2, {(*xs)[0], (*xs)[1], 1, (*xs)[2]})};
  model_.nodes.push_back(std::move(up));
  // The 2-D node: every window attribute with a leading 1 (pads: 0).
  onnx::NodeProto node2 = node;
  node2.set_input(0, x2);
  const std::string y2 = node.output(0) + "/2d";
  node2.set_output(0, y2);
  for (onnx::AttributeProto& a : *node2.mutable_attribute()) {
    const std::string& n = a.name();
    if (n != "kernel_shape" && n != "strides" && n != "dilations" &&
        n != "pads" && n != "output_padding") {
      continue;
    }
    std::vector<int64_t> v(a.ints().begin(), a.ints().end());
    a.clear_ints();
    if (n == "pads") {
      if (v.size() != 2) fail(node, "pads must have 2 values for a 1-D window");
      v = {0, v[0], 0, v[1]};
    } else if (n == "output_padding") {
      if (v.size() != 1) fail(node, n + " must have 1 value for a 1-D window");
      v.insert(v.begin(), 0);
    } else {
      if (v.size() != 1) {
        fail(node, n + " must have 1 value for a 1-D window");
      }
      v.insert(v.begin(), 1);
    }
    for (int64_t e : v) a.add_ints(e);
  }
  if (conv) {  // weight [O, C, k] → [O, C, 1, k] (ConvTranspose: [C, O, ·])
    Constant w = constants_.at(node.input(1));
    w.shape.insert(w.shape.begin() + 2, 1);
    const std::string w2 = node.input(1) + "/2d";
    constants_[w2] = std::move(w);
    weight_names_[w2] = weight_name(node.input(1));
    node2.set_input(1, w2);
  }
  (this->*import_2d)(node2);
  // y [N, O, 1, L'] → [N, O, L'].
  const uint32_t y = value_of(node, y2);
  const Shape& ys = model_.values[y].shape;
  NodeDef down;
  down.name = node.name() + "/to_1d";
  down.op = OpKind::kReshape;
  down.inputs = {y};
  down.attrs.set_ints("shape", {-2, -3, -5});
  down.outputs = {add_value(node.output(0), {ys[0], ys[1], ys[3]})};
  model_.nodes.push_back(std::move(down));
  return true;
}

}  // namespace spruce::converters
