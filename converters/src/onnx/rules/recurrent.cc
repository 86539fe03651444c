// ONNX LSTM, GRU and RNN: one rule, as the three differ only in their gates,
// states and cell options (RecurrentParams says how each is written).
#include <algorithm>

#include "onnx/importer.h"
#include "op_params.h"

namespace spruce::converters {
namespace {

struct CellInfo {
  OpKind op;
  RecurrentCell cell;
  const char* name;
  // The activations attribute's default per direction: f, g[, h].
  std::vector<const char*> activations;
};

const CellInfo& cell_info(const std::string& op_type) {
  static const CellInfo kCells[] = {
      {OpKind::kLstm,
       RecurrentCell::kLstm,
       "LSTM",
       {"Sigmoid", "Tanh", "Tanh"}},
      {OpKind::kGru, RecurrentCell::kGru, "GRU", {"Sigmoid", "Tanh"}},
      {OpKind::kRnn, RecurrentCell::kRnn, "RNN", {"Tanh"}},
  };
  for (const CellInfo& c : kCells) {
    if (op_type == c.name) return c;
  }
  throw Error("internal: no recurrent cell for op " + op_type);
}

// Rows [first, first + count) of direction d of a [dirs, rows, cols] tensor.
std::vector<float> rows_of(const std::vector<float>& data, int64_t rows,
                           int64_t cols, int64_t d, int64_t first,
                           int64_t count) {
  const auto begin = data.begin() + (d * rows + first) * cols;
  return {begin, begin + count * cols};
}

}  // namespace

Importer::StateInput Importer::initial_state(const onnx::NodeProto& node,
                                             int input, uint32_t dirs) {
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

void Importer::check_recurrent_weight(const onnx::NodeProto& node,
                                      const Constant& c, const char* what,
                                      int64_t dirs, int64_t rows) const {
  if (!c.is_float || c.shape.size() != 3 || c.shape[0] != dirs ||
      c.shape[1] != rows || c.shape[2] <= 0) {
    fail(node, std::string(what) + " has shape " + to_string(c.shape) +
                   ", expected [" + std::to_string(dirs) + ", " +
                   std::to_string(rows) + ", ...]");
  }
}

void Importer::import_recurrent(const onnx::NodeProto& node) {
  const CellInfo& info = cell_info(node.op_type());
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
  RecurrentParams p;
  p.cell = info.cell;
  const onnx::AttributeProto* direction = attr(node, "direction");
  const std::string dir = direction != nullptr ? direction->s() : "forward";
  if (dir == "reverse") {
    p.direction = RecurrentDirection::kReverse;
  } else if (dir == "bidirectional") {
    p.direction = RecurrentDirection::kBidirectional;
  } else if (dir != "forward") {
    fail(node, "unknown direction '" + dir + "'");
  }
  const uint32_t dirs = p.directions();
  // LSTM and GRU: their default gate functions only. RNN: Tanh, Relu or
  // Sigmoid, the same for both directions.
  if (const onnx::AttributeProto* acts = attr(node, "activations")) {
    const size_t per_dir = info.activations.size();
    const auto count = static_cast<size_t>(acts->strings_size());
    if (count != per_dir && count != per_dir * dirs) {
      fail(node, "attribute 'activations' has " + std::to_string(count) +
                     " entries, expected " + std::to_string(per_dir) +
                     " per direction");
    }
    for (int k = 0; k < acts->strings_size(); ++k) {
      const std::string& a = acts->strings(k);
      if (p.cell == RecurrentCell::kRnn) {
        const std::string& first = acts->strings(0);
        if (a != first) {
          fail(node, "activations differ between directions ('" + first +
                         "', '" + a + "')");
        }
        if (a == "Relu") {
          p.activation = RnnActivation::kRelu;
        } else if (a == "Sigmoid") {
          p.activation = RnnActivation::kSigmoid;
        } else if (a != "Tanh") {
          fail(node, "activation '" + a +
                         "' is not supported (Tanh, Relu or Sigmoid)");
        }
      } else if (a != info.activations[k % per_dir]) {
        std::string expected;
        for (const char* e : info.activations) {
          expected += (expected.empty() ? "" : ", ") + std::string(e);
        }
        fail(node,
             "activation '" + a + "' is not supported (only " + expected + ")");
      }
    }
  }
  p.linear_before_reset = attr_int(node, "linear_before_reset", 0) != 0;
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
    report_->folded.push_back("folded Transpose '" + xv->node + "' into " +
                              info.name + " '" + node.name() + "'");
  } else {
    x = value_of(node, node.input(0));
  }
  p.input_batch_major = (layout == 1) != x_transposed;
  p.output_batch_major = layout == 1;
  p.state_batch_major = layout == 1;

  const Shape& xs = model_.values[x].shape;
  if (xs.size() != 3) fail(node, "input X must be 3-D, is " + to_string(xs));
  const auto gates = static_cast<int64_t>(p.gates()) * hidden;
  const Constant& w = constant(node, node.input(1));
  const Constant& r = constant(node, node.input(2));
  check_recurrent_weight(node, w, "W", dirs, gates);
  check_recurrent_weight(node, r, "R", dirs, gates);
  const int64_t in = w.shape[2];
  if (r.shape[2] != hidden) {
    fail(node, "R has shape " + to_string(r.shape) + ", expected [" +
                   std::to_string(dirs) + ", " + std::to_string(gates) + ", " +
                   std::to_string(hidden) + "]");
  }
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
  n.op = info.op;
  static const char* kDirectionName[] = {".forward", ".reverse"};
  for (uint32_t d = 0; d < dirs; ++d) {
    const std::string suffix =
        dirs == 2
            ? kDirectionName[d]
            : (p.direction == RecurrentDirection::kReverse ? ".reverse" : "");
    n.weights.push_back(add_weight(node.name() + ".W" + suffix, {gates, in},
                                   rows_of(w.f, gates, in, d, 0, gates)));
    if (p.cell == RecurrentCell::kGru) {
      // R cut after the update and reset gates (RecurrentParams).
      n.weights.push_back(
          add_weight(node.name() + ".Rzr" + suffix, {2 * hidden, hidden},
                     rows_of(r.f, gates, hidden, d, 0, 2 * hidden)));
      n.weights.push_back(
          add_weight(node.name() + ".Rh" + suffix, {hidden, hidden},
                     rows_of(r.f, gates, hidden, d, 2 * hidden, hidden)));
    } else {
      n.weights.push_back(add_weight(node.name() + ".R" + suffix,
                                     {gates, hidden},
                                     rows_of(r.f, gates, hidden, d, 0, gates)));
    }
    // ONNX's input and recurrent biases summed, but for a GRU's candidate,
    // whose recurrent bias stays apart (RecurrentParams).
    const auto bias_size = static_cast<int64_t>(p.bias_gates()) * hidden;
    std::vector<float> bias(static_cast<size_t>(bias_size), 0.0f);
    if (b != nullptr) {
      const float* wb = b->f.data() + d * 2 * gates;
      const float* rb = wb + gates;
      const int64_t summed = p.cell == RecurrentCell::kGru ? 2 * hidden : gates;
      for (int64_t k = 0; k < summed; ++k) bias[k] = wb[k] + rb[k];
      if (p.cell == RecurrentCell::kGru) {
        for (int64_t k = 2 * hidden; k < gates; ++k) {
          bias[k] = wb[k];
          bias[k + hidden] = rb[k];
        }
      }
    }
    n.weights.push_back(
        add_weight(node.name() + ".B" + suffix, {bias_size}, std::move(bias)));
  }

  const StateInput h0 = initial_state(node, 5, dirs);
  const StateInput c0 =
      p.states() == 2 ? initial_state(node, 6, dirs) : StateInput{};
  if (h0.value != kNoValue && c0.value != kNoValue && h0.offset != c0.offset) {
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
  const Shape state_shape =
      p.state_batch_major ? Shape{batch, nd, hidden} : Shape{nd, batch, hidden};
  const int outputs = 1 + static_cast<int>(p.states());
  if (node.output_size() > outputs) {
    fail(node, "has " + std::to_string(node.output_size()) + " outputs, a " +
                   info.name + " at most " + std::to_string(outputs));
  }
  for (int k = 0; k < outputs; ++k) {
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
  set_recurrent_params(&n.attrs, p);
  if (n.outputs[0] != kNoValue) {
    recurrent_of_y_[n.outputs[0]] = model_.nodes.size();
  }
  model_.nodes.push_back(std::move(n));
}

SPRUCE_ONNX_RULE(recurrent, {"LSTM", "GRU", "RNN"},
                 ImportRule::kEmptyInputs | ImportRule::kUnnamedFirstOutput,
                 /*weight_inputs=*/{1, 2, 3});

}  // namespace spruce::converters
