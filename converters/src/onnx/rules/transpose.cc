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
  const uint32_t source = operand(node, node.input(0));
  View& v = add_view(node, View::Kind::kTranspose);
  v.source = source;
  v.perm = perm;
  // A constant's Transpose is a node at once, which import_node then folds.
  if (is_constant(node.input(0))) materialize(node, node.output(0), v);
}

SPRUCE_ONNX_RULE(transpose, {"Transpose"}, ImportRule::kNone,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
