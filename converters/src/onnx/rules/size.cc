// ONNX Size: the number of elements of a tensor whose shape is known at
// conversion, as an int64 scalar constant.
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_size(const onnx::NodeProto& node) {
  if (node.input_size() != 1) fail(node, "needs 1 input");
  std::optional<Shape> xs = shape_of(node.input(0));
  // A shape value (sizes taken with Shape): its length.
  const View* v = view(node.input(0));
  if (v != nullptr && v->kind == View::Kind::kShapeValue && v->sym_known) {
    xs = v->scalar ? Shape{} : Shape{static_cast<int64_t>(v->sym.size())};
  }
  if (!xs ||
      std::any_of(xs->begin(), xs->end(), [](int64_t d) { return d < 0; })) {
    fail(node, "the size of '" + node.input(0) +
                   "' is only known at run time, which is not supported");
  }
  Constant c;
  c.is_float = false;
  c.dtype = DataType::kInt64;
  c.i = {static_cast<int64_t>(element_count(*xs))};
  constants_[node.output(0)] = std::move(c);
}

SPRUCE_ONNX_RULE(size, {"Size"}, ImportRule::kBeforeFolding,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
