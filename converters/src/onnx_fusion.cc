// LayerNorm and GELU pattern fusion (see onnx_fusion.h).
//
// LayerNorm, as torch.nn.LayerNorm exports at opset < 17:
//   m = ReduceMean(x, axes=[-1]); d = Sub(x, m); p = Pow(d, 2);
//   v = ReduceMean(p, axes=[-1]); s = Sqrt(Add(v, eps)); n = Div(d, s);
//   [y = Add(Mul(n, gamma), beta)]
// GELU (erf form, BERT's and torch.nn.functional.gelu's):
//   e = Erf(Div(x, √2)) or Erf(Mul(x, 1/√2)); a = Add(e, 1);
//   y = Mul(Mul(x, 0.5), a) or Mul(Mul(x, a), 0.5)
// Every intermediate must be read only inside its pattern.
#include "onnx_fusion.h"

#include <cmath>
#include <optional>
#include <set>

#include "spruce/error.h"

namespace spruce::converters {
namespace {

class Fuser {
 public:
  Fuser(const onnx::GraphProto& graph,
        std::unordered_map<std::string, Constant>* constants)
      : constants_(*constants) {
    nodes_.assign(graph.node().begin(), graph.node().end());
    for (size_t i = 0; i < nodes_.size(); ++i) {
      for (const std::string& out : nodes_[i].output()) producer_[out] = i;
      for (const std::string& in : nodes_[i].input()) {
        ++readers_[in];
        consumers_[in].push_back(i);
      }
    }
    for (const auto& out : graph.output()) ++readers_[out.name()];
    for (const onnx::NodeProto& n : nodes_) {
      if (n.op_type() == "Constant" && n.output_size() == 1) {
        for (const auto& a : n.attribute()) {
          if (a.name() == "value") {
            try {
              constants_[n.output(0)] = constant_from_proto(a.t(), n.name());
            } catch (const Error&) {
              // A constant fusion cannot read (another data type, bad
              // data) matches no pattern; the importer reports it if the
              // model uses it. Anything else (out of memory) propagates.
            }
          }
        }
      }
    }
  }

  std::vector<onnx::NodeProto> run(std::vector<std::string>* notes) {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (!complete(nodes_[i])) continue;
      if (nodes_[i].op_type() == "Div") try_layer_norm(i, notes);
      if (nodes_[i].op_type() == "Erf") try_gelu(i, notes);
    }
    std::vector<onnx::NodeProto> out;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (removed_.count(i) == 0) out.push_back(std::move(nodes_[i]));
    }
    return out;
  }

 private:
  // Whether `n` has the inputs and the output the patterns read for its op.
  // A hostile graph may leave them out, and protobuf does not check the
  // index of input(k); the importer refuses such nodes with a message.
  static bool complete(const onnx::NodeProto& n) {
    const std::string& op = n.op_type();
    const int inputs =
        op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow"
            ? 2
            : 1;
    return n.input_size() >= inputs && n.output_size() >= 1;
  }

  // The node producing `tensor` if it is `op`, complete, and read only once.
  std::optional<size_t> sole(const std::string& tensor, const char* op,
                             int readers = 1) const {
    const auto it = producer_.find(tensor);
    if (it == producer_.end() || removed_.count(it->second) != 0) {
      return std::nullopt;
    }
    const auto r = readers_.find(tensor);
    if (r == readers_.end() || r->second != readers) return std::nullopt;
    const onnx::NodeProto& n = nodes_[it->second];
    if (n.op_type() != op || !complete(n)) return std::nullopt;
    return it->second;
  }

  // The single reader of `tensor`, if it is `op` and complete.
  std::optional<size_t> only_reader(const std::string& tensor,
                                    const char* op) const {
    const auto r = readers_.find(tensor);
    if (r == readers_.end() || r->second != 1) return std::nullopt;
    const auto c = consumers_.find(tensor);
    if (c == consumers_.end() || c->second.size() != 1) return std::nullopt;
    const size_t i = c->second.front();
    if (removed_.count(i) != 0 || nodes_[i].op_type() != op ||
        !complete(nodes_[i])) {
      return std::nullopt;
    }
    return i;
  }

  std::optional<float> scalar(const std::string& name) const {
    const auto it = constants_.find(name);
    if (it == constants_.end() ||
        it->second.f.size() + it->second.i.size() != 1) {
      return std::nullopt;
    }
    return it->second.is_float ? it->second.f[0]
                               : static_cast<float>(it->second.i[0]);
  }

  bool is_constant(const std::string& name) const {
    return constants_.count(name) != 0;
  }

  // The other input of a binary node, given one of them.
  static std::optional<std::string> other(const onnx::NodeProto& n,
                                          const std::string& one) {
    if (n.input_size() != 2) return std::nullopt;
    if (n.input(0) == one) return n.input(1);
    if (n.input(1) == one) return n.input(0);
    return std::nullopt;
  }

  static std::vector<int64_t> axes(const onnx::NodeProto& n) {
    for (const auto& a : n.attribute()) {
      if (a.name() == "axes") return {a.ints().begin(), a.ints().end()};
    }
    return {};
  }

  static bool near(std::optional<float> v, float target) {
    return v.has_value() && std::fabs(*v - target) <= 1e-4f * std::fabs(target);
  }

  void try_layer_norm(size_t div, std::vector<std::string>* notes) {
    const onnx::NodeProto& d = nodes_[div];
    if (d.input_size() != 2) return;
    const auto sub = sole(d.input(0), "Sub", 2);
    const auto sqrt = sole(d.input(1), "Sqrt");
    if (!sub || !sqrt) return;
    const onnx::NodeProto& s = nodes_[*sub];
    const std::string& x = s.input(0);
    const auto mean = sole(s.input(1), "ReduceMean");
    if (!mean || nodes_[*mean].input(0) != x) return;
    const std::vector<int64_t> ax = axes(nodes_[*mean]);
    if (ax.size() != 1) return;
    const auto add = sole(nodes_[*sqrt].input(0), "Add");
    if (!add) return;
    const onnx::NodeProto& a = nodes_[*add];
    std::optional<size_t> var;
    std::optional<float> eps;
    for (int k = 0; k < 2 && !var; ++k) {
      var = sole(a.input(k), "ReduceMean");
      eps = scalar(a.input(1 - k));
    }
    if (!var || !eps || axes(nodes_[*var]) != ax) return;
    const auto pow = sole(nodes_[*var].input(0), "Pow");
    if (!pow || nodes_[*pow].input(0) != s.output(0) ||
        !near(scalar(nodes_[*pow].input(1)), 2.0f)) {
      return;
    }
    // The affine part, when it follows.
    std::string scale, bias, output = d.output(0);
    std::set<size_t> pattern = {*sub, *sqrt, *mean, *add, *var, *pow};
    if (const auto mul = only_reader(output, "Mul")) {
      const auto g = other(nodes_[*mul], output);
      if (g && is_constant(*g)) {
        scale = *g;
        output = nodes_[*mul].output(0);
        pattern.insert(div);
        div = *mul;
        if (const auto badd = only_reader(output, "Add")) {
          const auto b = other(nodes_[*badd], output);
          if (b && is_constant(*b)) {
            bias = *b;
            output = nodes_[*badd].output(0);
            pattern.insert(div);
            div = *badd;
          }
        }
      }
    }
    if (scale.empty()) {
      scale = output + "::unit_scale";
      constants_[scale] = Constant{};  // filled by the importer's shape
      constants_[scale].f = {1.0f};
    }
    onnx::NodeProto fused;
    fused.set_op_type("LayerNormalization");
    fused.set_name(d.name().empty() ? output : d.name());
    fused.add_input(x);
    fused.add_input(scale);
    if (!bias.empty()) fused.add_input(bias);
    fused.add_output(output);
    auto* axis = fused.add_attribute();
    axis->set_name("axis");
    axis->set_type(onnx::AttributeProto::INT);
    axis->set_i(ax[0]);
    auto* epsilon = fused.add_attribute();
    epsilon->set_name("epsilon");
    epsilon->set_type(onnx::AttributeProto::FLOAT);
    epsilon->set_f(*eps);
    for (size_t p : pattern) removed_.insert(p);
    nodes_[div] = fused;
    notes->push_back("fused LayerNorm pattern into '" + fused.name() + "'");
  }

  void try_gelu(size_t erf, std::vector<std::string>* notes) {
    const onnx::NodeProto& e = nodes_[erf];
    // x / √2 or x · (1/√2).
    std::string x;
    std::optional<size_t> scaled = sole(e.input(0), "Div");
    if (scaled && near(scalar(nodes_[*scaled].input(1)), std::sqrt(2.0f))) {
      x = nodes_[*scaled].input(0);
    } else {
      scaled = sole(e.input(0), "Mul");
      if (!scaled) return;
      const onnx::NodeProto& m = nodes_[*scaled];
      for (int k = 0; k < 2 && x.empty(); ++k) {
        if (near(scalar(m.input(1 - k)), std::sqrt(0.5f))) x = m.input(k);
      }
      if (x.empty()) return;
    }
    const auto add = only_reader(e.output(0), "Add");
    if (!add) return;
    const auto one = other(nodes_[*add], e.output(0));
    if (!one || !near(scalar(*one), 1.0f)) return;
    const std::string a = nodes_[*add].output(0);
    const auto mul = only_reader(a, "Mul");
    if (!mul) return;
    const auto m_other = other(nodes_[*mul], a);
    if (!m_other) return;
    std::set<size_t> pattern = {*scaled, erf, *add};
    size_t last = *mul;
    std::string output = nodes_[*mul].output(0);
    // Mul(Mul(x, 0.5), a)
    const auto half = sole(*m_other, "Mul");
    bool matched = false;
    if (half) {
      const auto h = other(nodes_[*half], x);
      if (h && near(scalar(*h), 0.5f)) {
        pattern.insert(*half);
        matched = true;
      }
    }
    // Mul(Mul(x, a), 0.5)
    if (!matched && *m_other == x) {
      const auto outer = only_reader(output, "Mul");
      if (!outer) return;
      const auto h = other(nodes_[*outer], output);
      if (!h || !near(scalar(*h), 0.5f)) return;
      pattern.insert(last);
      last = *outer;
      output = nodes_[*outer].output(0);
      matched = true;
    }
    if (!matched) return;
    onnx::NodeProto fused;
    fused.set_op_type("Gelu");
    fused.set_name(nodes_[last].name().empty() ? output : nodes_[last].name());
    fused.add_input(x);
    fused.add_output(output);
    for (size_t p : pattern) removed_.insert(p);
    nodes_[last] = fused;
    notes->push_back("fused GELU pattern into '" + fused.name() + "'");
  }

  std::vector<onnx::NodeProto> nodes_;
  std::unordered_map<std::string, Constant>& constants_;
  std::unordered_map<std::string, size_t> producer_;
  std::unordered_map<std::string, int> readers_;
  // Nodes reading each tensor (graph outputs count as readers, not here).
  std::unordered_map<std::string, std::vector<size_t>> consumers_;
  std::set<size_t> removed_;
};

}  // namespace

std::vector<onnx::NodeProto> fuse_patterns(
    const onnx::GraphProto& graph,
    std::unordered_map<std::string, Constant>* constants,
    std::vector<std::string>* notes) {
  return Fuser(graph, constants).run(notes);
}

}  // namespace spruce::converters
