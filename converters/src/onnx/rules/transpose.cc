// ONNX Transpose.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_transpose(const onnx::NodeProto& node) {
  if (node.input_size() != 1) fail(node, "needs 1 input");
  const std::vector<int64_t> perm = attr_ints(node, "perm");
  // A merged LSTM output turned batch first (or back).
  NodeDef* lstm = sole_lstm_y(node.input(0));
  if (lstm != nullptr && lstm_params_of(lstm->attrs).merged_output &&
      perm == std::vector<int64_t>{1, 0, 2}) {
    LstmParams p = lstm_params_of(lstm->attrs);
    p.output_batch_major = !p.output_batch_major;
    set_lstm_params(&lstm->attrs, p);
    ValueDef& y = model_.values[lstm->outputs[0]];
    std::swap(y.shape[0], y.shape[1]);
    rename_value(lstm->outputs[0], node.output(0));
    report_->folded.push_back("folded Transpose '" + node.name() +
                              "' into LSTM '" + lstm->name + "'");
    return;
  }
  const uint32_t source = value_of(node, node.input(0));
  View& v = add_view(node, View::Kind::kTranspose);
  v.source = source;
  v.perm = perm;
}

SPRUCE_ONNX_RULE(transpose, {"Transpose"}, ImportRule::kNone,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
