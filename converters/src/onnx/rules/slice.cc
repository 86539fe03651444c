// ONNX Slice.
#include "onnx/importer.h"

namespace spruce::converters {

// Slice of any tensor; ends computed from a dynamic size (PyTorch's
// position_ids[:, :seq_len]) end at that dimension of a value holding it.
void Importer::import_general_slice(const onnx::NodeProto& node) {
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
      if (size == 0) fail(node, "the slice of " + to_string(xs) + " is empty");
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
void Importer::import_slice(const onnx::NodeProto& node) {
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

SPRUCE_ONNX_RULE(slice, {"Slice"}, ImportRule::kEmptyInputs,
                 /*weight_inputs=*/{1, 2, 3, 4});

}  // namespace spruce::converters
