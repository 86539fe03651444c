// ONNX Tile, its repeats a constant (PyTorch's repeat).
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_tile(const onnx::NodeProto& node) {
  if (node.input_size() != 2) fail(node, "needs inputs and repeats");
  const std::optional<std::vector<int64_t>> repeats = int_values(node.input(1));
  if (!repeats) fail(node, "repeats must be integer constants");
  NodeDef n;
  n.op = OpKind::kTile;
  n.inputs = {operand(node, node.input(0))};
  const Shape xs = model_.values[n.inputs[0]].shape;
  if (repeats->size() != xs.size()) {
    fail(node, "has " + std::to_string(repeats->size()) +
                   " repeats for input " + to_string(xs));
  }
  Shape ys = xs;
  for (size_t d = 0; d < xs.size(); ++d) {
    if ((*repeats)[d] < 1) {
      fail(node, "repeats below 1 (empty tensors) are not supported");
    }
    if (xs[d] >= 0) ys[d] = xs[d] * (*repeats)[d];
  }
  n.attrs.set_ints("repeats", *repeats);
  add_simple(node, std::move(n), ys);
}

SPRUCE_ONNX_RULE(tile, {"Tile"}, ImportRule::kNone, /*weight_inputs=*/{1});

}  // namespace spruce::converters
