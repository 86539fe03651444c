// ONNX MaxPool, AveragePool (2-D, 3-D, and 1-D as 2-D).
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_pool(const onnx::NodeProto& node) {
  if (node.input_size() != 1) fail(node, "needs 1 input");
  if (node.output_size() > 1 && !node.output(1).empty()) {
    fail(node, "the Indices output is not supported");
  }
  if (attr_int(node, "storage_order", 0) != 0) {
    fail(node, "storage_order=1 is not supported");
  }
  if (import_1d_as_2d(node, &Importer::import_pool)) return;
  const uint32_t x = value_of(node, node.input(0));
  const Shape& xs = model_.values[x].shape;
  SpatialParams p = spatial_params(node, xs, {});
  p.ceil_mode = attr_int(node, "ceil_mode", 0) != 0;
  p.count_include_pad = attr_int(node, "count_include_pad", 0) != 0;
  const bool max = node.op_type() == "MaxPool";
  if (!max && std::any_of(p.dilations, p.dilations + p.rank,
                          [](uint32_t d) { return d != 1; })) {
    fail(node, "dilations are not supported for AveragePool");
  }
  NodeDef n;
  n.name = node.name();
  n.op = max ? OpKind::kMaxPool : OpKind::kAveragePool;
  n.inputs = {x};
  set_spatial_params(&n.attrs, p);
  n.outputs = {add_value(node.output(0), window_output(node, xs, xs[1], p))};
  model_.nodes.push_back(std::move(n));
}

SPRUCE_ONNX_RULE(pool, {"MaxPool", "AveragePool"}, ImportRule::kNone,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
