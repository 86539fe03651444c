// ONNX LSTM.
#include "onnx/importer.h"

namespace spruce::converters {

Importer::StateInput Importer::lstm_state(const onnx::NodeProto& node,
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

// ONNX W [dirs, 4H, in] (or R [dirs, 4H, H]) as one [4H, K] weight per
// direction.
void Importer::check_lstm_weight(const onnx::NodeProto& node, const Constant& c,
                                 const char* what, int64_t dirs,
                                 int64_t rows) const {
  if (!c.is_float || c.shape.size() != 3 || c.shape[0] != dirs ||
      c.shape[1] != rows || c.shape[2] <= 0) {
    fail(node, std::string(what) + " has shape " + to_string(c.shape) +
                   ", expected [" + std::to_string(dirs) + ", " +
                   std::to_string(rows) + ", ...]");
  }
}

void Importer::import_lstm(const onnx::NodeProto& node) {
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
        dirs == 2 ? kDirectionName[d]
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

SPRUCE_ONNX_RULE(lstm, {"LSTM"},
                 ImportRule::kEmptyInputs | ImportRule::kUnnamedFirstOutput,
                 /*weight_inputs=*/{1, 2, 3});

}  // namespace spruce::converters
