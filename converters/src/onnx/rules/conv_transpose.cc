// ONNX ConvTranspose (2-D, and 1-D as 2-D), its weight and bias constants.
// output_shape and auto_pad are refused by name.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_conv_transpose(const onnx::NodeProto& node) {
  if (node.input_size() < 2) fail(node, "needs inputs X and W");
  if (import_1d_as_2d(node, &Importer::import_conv_transpose)) return;
  if (attr(node, "output_shape") != nullptr) {
    fail(node, "output_shape is not supported (give pads)");
  }
  if (const onnx::AttributeProto* a = attr(node, "auto_pad")) {
    if (a->s() != "NOTSET") fail(node, "auto_pad is not supported");
  }
  const Constant& w = constant(node, node.input(1));
  if (!w.is_float || w.shape.size() != 4) {
    fail(node,
         "only 2-D transposed convolutions (a 4-D float weight) are "
         "supported; weight is " +
             to_string(w.shape));
  }
  NodeDef n;
  n.op = OpKind::kConvTranspose;
  n.inputs = {value_of(node, node.input(0))};
  const Shape xs = model_.values[n.inputs[0]].shape;
  if (xs.size() != 4) fail(node, "input must be NCHW, is " + to_string(xs));
  auto list = [&](const char* onnx_name, const char* name, size_t count,
                  int64_t fallback) {
    std::vector<int64_t> v = attr_ints(node, onnx_name);
    if (v.empty()) v.assign(count, fallback);
    if (v.size() != count) {
      fail(node, std::string(onnx_name) + " must have " +
                     std::to_string(count) + " values");
    }
    n.attrs.set_ints(name, v);
    return v;
  };
  list("kernel_shape", "kernel", 2, 0);
  n.attrs.set_ints("kernel", {w.shape[2], w.shape[3]});
  list("strides", "strides", 2, 1);
  list("pads", "pads", 4, 0);
  list("dilations", "dilations", 2, 1);
  list("output_padding", "output_padding", 2, 0);
  const int64_t group = attr_int(node, "group", 1);
  n.attrs.set_int("group", group);
  n.weights.push_back(add_weight(weight_name(node.input(1)), w.shape, w.f));
  if (node.input_size() > 2 && !node.input(2).empty()) {
    const Constant& b = constant(node, node.input(2));
    if (!b.is_float || b.f.size() != static_cast<size_t>(w.shape[1] * group)) {
      fail(node,
           "bias must hold " + std::to_string(w.shape[1] * group) + " floats");
    }
    n.weights.push_back(add_weight(weight_name(node.input(2)), b.shape, b.f));
  }
  // The shape rule is the runtime op's.
  Graph g;
  for (uint32_t wi : n.weights) {
    WeightDesc d;
    d.shape = model_.weights[wi].shape;
    g.weights.push_back(d);
  }
  NodeDesc probe = n;
  for (size_t k = 0; k < probe.weights.size(); ++k) {
    probe.weights[k] = static_cast<uint32_t>(k);
  }
  Shape ys;
  try {
    ys = op_rule(OpKind::kConvTranspose).output_shapes(g, probe, {xs})[0];
  } catch (const Error& e) {
    fail(node, e.what());
  }
  add_simple(node, std::move(n), ys);
}

SPRUCE_ONNX_RULE(conv_transpose, {"ConvTranspose"}, ImportRule::kEmptyInputs,
                 /*weight_inputs=*/{1, 2});

}  // namespace spruce::converters
