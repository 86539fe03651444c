// ONNX Conv (2-D, 1-D as 2-D, and 3-D as Conv3d).
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_conv(const onnx::NodeProto& node) {
  if (node.input_size() < 2) fail(node, "needs inputs X and W");
  if (import_1d_as_2d(node, &Importer::import_conv)) return;
  const uint32_t x = value_of(node, node.input(0));
  const Shape& xs = model_.values[x].shape;
  const Constant& w = constant(node, node.input(1));
  if (!w.is_float || (w.shape.size() != 4 && w.shape.size() != 5) ||
      w.shape.size() != xs.size()) {
    fail(node,
         "only 2-D and 3-D convolutions (a 4-D or 5-D float weight of the "
         "input's rank) are supported; weight is " +
             to_string(w.shape) + ", input " + to_string(xs));
  }
  const bool volume = w.shape.size() == 5;
  SpatialParams p =
      spatial_params(node, xs, Shape(w.shape.begin() + 2, w.shape.end()));
  const int64_t group = attr_int(node, "group", 1);
  if (group < 1 || w.shape[0] % group != 0 ||
      (xs[1] >= 0 && xs[1] != w.shape[1] * group)) {
    fail(node, "group " + std::to_string(group) + " does not fit input " +
                   to_string(xs) + " and weight " + to_string(w.shape));
  }
  p.group = static_cast<uint32_t>(group);
  std::vector<float> bias;
  if (node.input_size() > 2 && !node.input(2).empty()) {
    const Constant& b = constant(node, node.input(2));
    if (!b.is_float || b.f.size() != static_cast<size_t>(w.shape[0])) {
      fail(node, "bias must hold " + std::to_string(w.shape[0]) + " floats");
    }
    bias = b.f;
  }
  if (volume) {  // oneDNN's, dense: spruce's sparse kernels are 2-D
    NodeDef n;
    n.name = node.name();
    n.op = OpKind::kConv3d;
    n.inputs = {x};
    n.weights = {add_weight(weight_name(node.input(1)), w.shape, w.f)};
    if (!bias.empty()) {
      n.weights.push_back(add_weight(weight_name(node.input(1)) + ".bias",
                                     {w.shape[0]}, std::move(bias)));
    }
    set_spatial_params(&n.attrs, p);
    n.outputs = {
        add_value(node.output(0), window_output(node, xs, w.shape[0], p))};
    model_.nodes.push_back(std::move(n));
    return;
  }
  add_conv(node, x, p, w.shape, w.f, std::move(bias),
           weight_name(node.input(1)));
}

SPRUCE_ONNX_RULE(conv, {"Conv"}, ImportRule::kEmptyInputs,
                 /*weight_inputs=*/{1, 2});

}  // namespace spruce::converters
