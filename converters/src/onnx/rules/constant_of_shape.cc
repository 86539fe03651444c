// ONNX ConstantOfShape.
#include "onnx/importer.h"

namespace spruce::converters {

// Zeros: a pending view that a consumer folds (an LSTM's zero initial
// state) or materializes. Another fill of a shape known at conversion: a
// constant.
void Importer::import_constant_of_shape(const onnx::NodeProto& node) {
  if (node.input_size() != 1) fail(node, "needs 1 input (the shape)");
  const onnx::AttributeProto* value = attr(node, "value");
  Constant fill;
  fill.f = {0.0f};
  if (value != nullptr) {
    fill = constant_from_proto(value->t(), path_ + ": " + node.name());
    if ((fill.is_float ? fill.f.size() : fill.i.size()) != 1) {
      fail(node, "the fill value must hold one element");
    }
  }
  std::optional<std::vector<int64_t>> shape = int_values(node.input(0));
  const bool known = shape && std::all_of(shape->begin(), shape->end(),
                                          [](int64_t d) { return d >= 0; });
  if (known && !all_zero(fill)) {
    const size_t count = element_count(*shape);
    if (count > kMaxActivationElements) {
      fail(node, "a constant of shape " + to_string(*shape) + " is too large");
    }
    Constant c = fill;
    c.shape = *shape;
    c.f.assign(fill.is_float ? count : 0, fill.is_float ? fill.f[0] : 0.0f);
    c.i.assign(fill.is_float ? 0 : count, fill.is_float ? 0 : fill.i[0]);
    constants_[node.output(0)] = std::move(c);
    return;
  }
  if (!all_zero(fill)) {
    fail(node,
         "only a fill value of 0 is supported for a shape known only at "
         "run time");
  }
  View& v = add_view(node, View::Kind::kZeros);
  if (shape) {
    v.sym = *shape;
    v.sym_known = true;
  }
}

SPRUCE_ONNX_RULE(constant_of_shape, {"ConstantOfShape"},
                 ImportRule::kBeforeFolding,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
