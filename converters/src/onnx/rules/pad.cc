// ONNX Pad: constant, reflect and edge modes; pads and the fill value from
// inputs (opset 11 on) or attributes (before). A Pad that adds nothing
// (PyTorch 1.13 puts one before every AvgPool2d) is dropped.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_pad(const onnx::NodeProto& node) {
  if (node.input_size() < 1) fail(node, "needs an input");
  std::vector<int64_t> pads;
  if (node.input_size() > 1 && !node.input(1).empty()) {
    const std::optional<std::vector<int64_t>> v = int_values(node.input(1));
    if (!v) fail(node, "pads must be integer constants");
    pads = *v;
  } else {
    pads = attr_ints(node, "pads");
  }
  float value = attr_float(node, "value", 0.0f);
  if (node.input_size() > 2 && !node.input(2).empty()) {
    const Constant& c = constant(node, node.input(2));
    if (c.f.size() + c.i.size() != 1) fail(node, "constant_value must be one");
    value = c.is_float ? c.f[0] : static_cast<float>(c.i[0]);
  }
  if (node.input_size() > 3 && !node.input(3).empty()) {
    fail(node, "the axes input is not supported");
  }
  const onnx::AttributeProto* mode_attr = attr(node, "mode");
  const std::string mode = mode_attr != nullptr ? mode_attr->s() : "constant";
  int64_t mode_code = 0;
  if (mode == "reflect") {
    mode_code = 1;
  } else if (mode == "edge") {
    mode_code = 2;
  } else if (mode != "constant") {
    fail(node, "mode '" + mode + "' is not supported");
  }
  if (std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; })) {
    values_[node.output(0)] = value_of(node, node.input(0));
    report_->folded.push_back("dropped Pad '" + node.name() +
                              "' (pads are all zero)");
    return;
  }
  NodeDef n;
  n.op = OpKind::kPad;
  n.inputs = {operand(node, node.input(0))};
  const Shape xs = model_.values[n.inputs[0]].shape;
  if (pads.size() != 2 * xs.size()) {
    fail(node, "has " + std::to_string(pads.size()) + " pads for input " +
                   to_string(xs));
  }
  Shape ys = xs;
  for (size_t d = 0; d < xs.size(); ++d) {
    if (pads[d] < 0 || pads[d + xs.size()] < 0) {
      fail(node, "negative pads (cropping) are not supported");
    }
    if (xs[d] >= 0) ys[d] = xs[d] + pads[d] + pads[d + xs.size()];
  }
  n.attrs.set_ints("pads", pads);
  if (mode_code != 0) n.attrs.set_int("mode", mode_code);
  if (value != 0.0f) n.attrs.set_float("value", value);
  add_simple(node, std::move(n), ys);
}

SPRUCE_ONNX_RULE(pad, {"Pad"}, ImportRule::kEmptyInputs,
                 /*weight_inputs=*/{1, 2, 3});

}  // namespace spruce::converters
