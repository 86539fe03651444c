// ONNX Shape.
#include "onnx/importer.h"

namespace spruce::converters {

// Shape arithmetic and the zeros it shapes (see the top of this file).
// Returns true if `node` was such a node.
// A tensor's shape: a shape value (its sizes, symbolic where dynamic).
void Importer::import_shape(const onnx::NodeProto& node) {
  if (node.input_size() != 1) fail(node, "needs 1 input");
  std::optional<Shape> xs = shape_of(node.input(0));
  View& v = add_view(node, View::Kind::kShapeValue);
  if (xs) {
    const auto rank = static_cast<int64_t>(xs->size());
    int64_t b = attr_int(node, "start", 0), e = attr_int(node, "end", rank);
    b = std::clamp<int64_t>(b < 0 ? b + rank : b, 0, rank);
    e = std::clamp<int64_t>(e < 0 ? e + rank : e, 0, rank);
    for (int64_t k = b; k < e; ++k)
      v.sym.push_back((*xs)[static_cast<size_t>(k)]);
    v.sym_known = true;
  }
}

SPRUCE_ONNX_RULE(shape, {"Shape"}, ImportRule::kBeforeFolding,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
