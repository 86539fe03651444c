// ONNX GlobalAveragePool.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_global_average_pool(const onnx::NodeProto& node) {
  if (node.input_size() != 1) fail(node, "needs 1 input");
  const uint32_t x = value_of(node, node.input(0));
  const Shape& xs = model_.values[x].shape;
  if (xs.size() < 3) {
    fail(node, "needs [N, C, spatial...], input is " + to_string(xs));
  }
  NodeDef n;
  n.name = node.name();
  n.op = OpKind::kGlobalAveragePool;
  n.inputs = {x};
  Shape ys(xs.size(), 1);
  ys[0] = xs[0];
  ys[1] = xs[1];
  n.outputs = {add_value(node.output(0), ys)};
  model_.nodes.push_back(std::move(n));
}

SPRUCE_ONNX_RULE(global_average_pool, {"GlobalAveragePool"}, ImportRule::kNone,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
