// ONNX Transpose.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_transpose(const onnx::NodeProto& node) {
  if (node.input_size() != 1) fail(node, "needs 1 input");
  const std::vector<int64_t> perm = attr_ints(node, "perm");
  // A merged recurrent output turned batch first (or back).
  NodeDef* layer = sole_recurrent_y(node.input(0));
  if (layer != nullptr &&
      recurrent_params_of(layer->op, layer->attrs).merged_output &&
      perm == std::vector<int64_t>{1, 0, 2}) {
    RecurrentParams p = recurrent_params_of(layer->op, layer->attrs);
    p.output_batch_major = !p.output_batch_major;
    set_recurrent_params(&layer->attrs, p);
    ValueDef& y = model_.values[layer->outputs[0]];
    std::swap(y.shape[0], y.shape[1]);
    rename_value(layer->outputs[0], node.output(0));
    report_->folded.push_back("folded Transpose '" + node.name() + "' into " +
                              std::string(op_name(layer->op)) + " '" +
                              layer->name + "'");
    return;
  }
  // A constant's Transpose runs at once (and is folded: import_node).
  const uint32_t source = operand(node, node.input(0));
  if (is_constant(node.input(0))) {
    const Shape& xs = model_.values[source].shape;
    std::vector<int64_t> order = perm;
    if (order.empty()) {
      for (size_t d = xs.size(); d-- > 0;) {
        order.push_back(static_cast<int64_t>(d));
      }
    }
    std::vector<int64_t> seen(xs.size(), 0);
    Shape ys;
    for (int64_t d : order) {
      if (order.size() != xs.size() || d < 0 ||
          d >= static_cast<int64_t>(xs.size()) || seen[d]++ != 0) {
        fail(node, "perm is not a permutation of " + to_string(xs));
      }
      ys.push_back(xs[static_cast<size_t>(d)]);
    }
    NodeDef n;
    n.op = OpKind::kTranspose;
    n.inputs = {source};
    n.attrs.set_ints("perm", order);
    return add_simple(node, std::move(n), ys);
  }
  View& v = add_view(node, View::Kind::kTranspose);
  v.source = source;
  v.perm = perm;
}

SPRUCE_ONNX_RULE(transpose, {"Transpose"}, ImportRule::kNone,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
