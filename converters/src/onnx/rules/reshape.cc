// ONNX Reshape, Squeeze, Unsqueeze.
#include <set>

#include "onnx/importer.h"

namespace spruce::converters {

// Reshape(Transpose(Y, [0, 2, 1, 3]), [0, 0, -1]) or Squeeze(Y, [1]) of a
// seq-major LSTM, GRU or RNN output, Reshape(Y, [0, 0, -1]) or Squeeze(Y, [2])
// of a batch-major one: the directions side by side, which the layer writes
// directly.
void Importer::import_reshape(const onnx::NodeProto& node) {
  const bool needs_shape = node.op_type() == "Reshape";
  if (node.input_size() < 1 || node.input_size() > 2 ||
      (needs_shape && node.input_size() != 2)) {
    fail(node, needs_shape ? "needs 2 inputs (data, shape)"
                           : "needs 1 or 2 inputs (data[, axes])");
  }
  if (node.op_type() == "Unsqueeze") return reshape_any(node);
  const bool reshape = node.op_type() == "Reshape";
  std::string y_name = node.input(0);
  const View* v = view(y_name);
  const bool transposed = v != nullptr && v->kind == View::Kind::kTranspose &&
                          v->perm == std::vector<int64_t>{0, 2, 1, 3} &&
                          readers_[y_name] == 1;
  if (transposed) y_name = model_.values[v->source].name;
  NodeDef* layer = sole_recurrent_y(y_name);
  if (layer != nullptr &&
      !recurrent_params_of(layer->op, layer->attrs).merged_output) {
    RecurrentParams p = recurrent_params_of(layer->op, layer->attrs);
    const auto width = static_cast<int64_t>(p.directions() * p.hidden_size);
    ValueDef& y = model_.values[layer->outputs[0]];
    bool merges = false;
    if (reshape) {
      const Constant& shape = constant(node, node.input(1));
      const Shape merged = {y.shape[0],
                            p.output_batch_major ? y.shape[1] : y.shape[2]};
      merges = transposed != p.output_batch_major && !shape.is_float &&
               shape.i.size() == 3 && (shape.i[2] == -1 || shape.i[2] == width);
      for (size_t d = 0; merges && d < 2; ++d) {
        merges = shape.i[d] == 0 || (merged[d] >= 0 && shape.i[d] == merged[d]);
      }
    } else {
      const std::vector<int64_t> axes = ints_input_or_attr(node, 1, "axes");
      merges = !transposed && p.directions() == 1 &&
               axes == std::vector<int64_t>{p.output_batch_major ? 2 : 1};
    }
    if (merges) {
      p.merged_output = true;
      set_recurrent_params(&layer->attrs, p);
      y.shape = p.output_batch_major ? Shape{y.shape[0], y.shape[1], width}
                                     : Shape{y.shape[0], y.shape[2], width};
      rename_value(layer->outputs[0], node.output(0));
      if (transposed) views_.erase(node.input(0));
      report_->folded.push_back("folded " + node.op_type() + " '" +
                                node.name() + "' into " +
                                std::string(op_name(layer->op)) + " '" +
                                layer->name + "' (directions side by side)");
      return;
    }
  }
  reshape_any(node);
}

// Reshape, Squeeze, Unsqueeze as a runtime Reshape whose dynamic sizes are
// copied from the input: entries <= -2 copy input dimension -d - 2.
void Importer::reshape_any(const onnx::NodeProto& node) {
  const std::string& op = node.op_type();
  const uint32_t x = operand(node, node.input(0));
  const Shape xs = model_.values[x].shape;
  std::vector<int64_t> spec;
  Shape ys;
  uint32_t ref = kNoValue;        // a model input sizes are copied from
  std::vector<int64_t> ref_dims;  // 1 where spec copies from it
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
          fail(node, "dimension " + std::to_string(d) + " of " + to_string(xs) +
                         " is not 1");
        continue;
      }
      copy(d);
    }
  } else if (op == "Unsqueeze") {
    const std::vector<int64_t> axes =
        normalized_axes(node, ints_input_or_attr(node, 1, "axes"),
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
    if (!target && is_constant(node.input(1))) {
      fail(node, "the target shape '" + node.input(1) +
                     "' holds values that are not int64 sizes");
    }
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
        // A dynamic size of a model input: copied from that input.
        const auto origin = symbol_origin_.find(t);
        if (origin != symbol_origin_.end() &&
            (ref == kNoValue || ref == origin->second.first)) {
          ref = origin->second.first;
          ref_dims.resize(spec.size() + 1, 0);
          ref_dims.back() = 1;
          spec.push_back(-2 - static_cast<int64_t>(origin->second.second));
          ys.push_back(t);
          continue;
        }
        // A size computed from dynamic ones: inferred at run time, and kept
        // as the output's size for the shape arithmetic that reads it
        // (Swin divides its batch × windows back by the windows).
        if (infer != target->size()) fail(node, "two sizes are unknown");
        infer = i;
        spec.push_back(-1);
        ys.push_back(t);
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
      // The inferred size: the input's sizes over the others. Symbolic
      // sizes on both sides cancel ([batch, C·H·W] into [batch, -1, H, W]
      // under a dynamic batch infers C).
      std::multiset<int64_t> symbols;
      int64_t total = 1, known = 1;
      for (int64_t d : xs) {
        if (d <= -2) {
          symbols.insert(d);
        } else {
          total = known_product(node, total, d);
        }
      }
      const int64_t computed = ys[infer];
      ys[infer] = -1;
      for (size_t i = 0; i < ys.size(); ++i) {
        if (i == infer) continue;
        const auto match = symbols.find(ys[i]);
        if (ys[i] <= -2 && match != symbols.end()) {
          symbols.erase(match);
        } else {
          known = known_product(node, known, ys[i]);
        }
      }
      if (!symbols.empty()) total = -1;  // a dynamic size left over
      if (total > 0 && known > 0) {
        if (total % known != 0) {
          fail(node, "cannot reshape " + to_string(xs) + " into " +
                         to_string(*target));
        }
        ys[infer] = total / known;
        // Known whatever the dynamic sizes: the runtime is told it (it
        // cannot cancel sizes it sees only as unknown).
        spec[infer] = ys[infer];
      } else {
        ys[infer] = computed;
      }
    }
  }
  NodeDef n;
  n.op = OpKind::kReshape;
  n.inputs = {x};
  if (ref != kNoValue) {
    n.inputs.push_back(ref);
    ref_dims.resize(spec.size(), 0);
    n.attrs.set_ints("ref_dims", std::move(ref_dims));
  }
  n.attrs.set_ints("shape", std::move(spec));
  add_simple(node, std::move(n), ys);
}

SPRUCE_ONNX_RULE(reshape, {"Reshape", "Squeeze", "Unsqueeze"},
                 ImportRule::kNone,
                 /*weight_inputs=*/{1});

}  // namespace spruce::converters
