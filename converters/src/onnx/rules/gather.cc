// ONNX Gather: rows of a constant table (an embedding: its own op, the table
// a weight), else along any axis of any tensor (GatherAxis).
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::gather_along_axis(const onnx::NodeProto& node) {
  NodeDef n;
  n.op = OpKind::kGatherAxis;
  const uint32_t x = operand(node, node.input(0));
  const Shape xs = model_.values[x].shape;
  const int64_t axis = axis_attr(node, "axis", 0, xs);
  // A scalar index (x[:, 0]) drops the axis; operand() holds it as [1].
  const bool squeeze =
      is_constant(node.input(1)) && constants_.at(node.input(1)).shape.empty();
  const uint32_t ids = operand(node, node.input(1));
  n.inputs = {x, ids};
  n.attrs.set_int("axis", axis);
  if (squeeze) n.attrs.set_int("squeeze", 1);
  Shape shape(xs.begin(), xs.begin() + axis);
  if (!squeeze) {
    const Shape& is = model_.values[ids].shape;
    shape.insert(shape.end(), is.begin(), is.end());
  }
  shape.insert(shape.end(), xs.begin() + axis + 1, xs.end());
  add_simple(node, std::move(n), shape);
}

void Importer::import_gather(const onnx::NodeProto& node) {
  if (node.input_size() != 2) fail(node, "needs 2 inputs");
  if (!is_constant(node.input(0)) || attr_int(node, "axis", 0) != 0) {
    return gather_along_axis(node);
  }
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
