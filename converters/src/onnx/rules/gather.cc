// ONNX Gather.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_gather(const onnx::NodeProto& node) {
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

SPRUCE_ONNX_RULE(gather, {"Gather"}, ImportRule::kNone,
                 /*weight_inputs=*/{0});

}  // namespace spruce::converters
