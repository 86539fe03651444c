// ONNX GlobalMaxPool: the Reduce op's maximum over the spatial dimensions,
// kept as size 1.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_global_max_pool(const onnx::NodeProto& node) {
  if (node.input_size() != 1) fail(node, "needs 1 input");
  NodeDef n;
  n.op = OpKind::kReduce;
  n.attrs.set_int("op", static_cast<int64_t>(ReduceOp::kMax));
  n.inputs = {operand(node, node.input(0))};
  const Shape xs = model_.values[n.inputs[0]].shape;
  if (xs.size() < 3) {
    fail(node, "needs [N, C, spatial...], input is " + to_string(xs));
  }
  std::vector<int64_t> axes;
  Shape ys = {xs[0], xs[1]};
  for (size_t d = 2; d < xs.size(); ++d) {
    axes.push_back(static_cast<int64_t>(d));
    ys.push_back(1);
  }
  n.attrs.set_ints("axes", axes);
  n.attrs.set_int("keepdims", 1);
  add_simple(node, std::move(n), ys);
}

SPRUCE_ONNX_RULE(global_max_pool, {"GlobalMaxPool"}, ImportRule::kNone,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
