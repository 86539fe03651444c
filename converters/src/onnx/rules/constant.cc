// ONNX Constant.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_constant(const onnx::NodeProto& node) {
  const onnx::AttributeProto* value = attr(node, "value");
  const onnx::AttributeProto* value_float = attr(node, "value_float");
  const onnx::AttributeProto* value_floats = attr(node, "value_floats");
  const onnx::AttributeProto* value_int = attr(node, "value_int");
  const onnx::AttributeProto* value_ints = attr(node, "value_ints");
  Constant c;
  if (value != nullptr) {
    c = constant_from_proto(value->t(),
                            path_ + ": Constant '" + node.name() + "'");
  } else if (value_float != nullptr) {
    c.f = {value_float->f()};
  } else if (value_floats != nullptr) {
    c.f.assign(value_floats->floats().begin(), value_floats->floats().end());
    c.shape = {static_cast<int64_t>(c.f.size())};
  } else if (value_int != nullptr || value_ints != nullptr) {
    c.is_float = false;
    c.dtype = DataType::kInt64;
    if (value_int != nullptr) {
      c.i = {value_int->i()};
    } else {
      c.i.assign(value_ints->ints().begin(), value_ints->ints().end());
      c.shape = {static_cast<int64_t>(c.i.size())};
    }
  } else {
    fail(node,
         "only value, value_float(s) and value_int(s) are supported (not "
         "strings or sparse tensors)");
  }
  constants_[node.output(0)] = std::move(c);
}

SPRUCE_ONNX_RULE(constant, {"Constant"}, ImportRule::kBeforeFolding,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
