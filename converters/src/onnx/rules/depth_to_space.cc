// ONNX DepthToSpace (DCR and CRD modes) and SpaceToDepth: each a Reshape to
// six dimensions, a Transpose and a Reshape back, as the ONNX spec defines
// them. The channels, height and width must be known at conversion (the
// batch may be dynamic).
#include "onnx/importer.h"

namespace spruce::converters {

void Importer::import_depth_to_space(const onnx::NodeProto& node) {
  if (node.input_size() != 1) fail(node, "needs 1 input");
  const bool to_space = node.op_type() == "DepthToSpace";
  const int64_t b = attr_int(node, "blocksize", 0);
  if (b < 1) fail(node, "blocksize must be at least 1");
  const uint32_t x = operand(node, node.input(0));
  const Shape xs = model_.values[x].shape;
  if (xs.size() != 4 || xs[1] < 0 || xs[2] < 0 || xs[3] < 0) {
    fail(node, "needs an input [N, C, H, W] with C, H and W known, has " +
                   to_string(xs));
  }
  const int64_t c = xs[1], h = xs[2], w = xs[3];
  // -2 copies the batch.
  std::vector<int64_t> split, joined;
  std::vector<int64_t> perm;
  if (to_space) {
    if (c % (b * b) != 0) {
      fail(node, std::to_string(c) + " channels are not a multiple of " +
                     std::to_string(b * b));
    }
    const std::string mode =
        attr(node, "mode") != nullptr ? attr(node, "mode")->s() : "DCR";
    if (mode == "DCR") {
      split = {-2, b, b, c / (b * b), h, w};
      perm = {0, 3, 4, 1, 5, 2};
    } else if (mode == "CRD") {
      split = {-2, c / (b * b), b, b, h, w};
      perm = {0, 1, 4, 2, 5, 3};
    } else {
      fail(node, "mode '" + mode + "' is not DCR or CRD");
    }
    joined = {-2, c / (b * b), h * b, w * b};
  } else {
    if (h % b != 0 || w % b != 0) {
      fail(node, "height " + std::to_string(h) + " and width " +
                     std::to_string(w) + " are not multiples of " +
                     std::to_string(b));
    }
    split = {-2, c, h / b, b, w / b, b};
    perm = {0, 3, 5, 1, 2, 4};
    joined = {-2, c * b * b, h / b, w / b};
  }
  auto shape_of_spec = [&](const std::vector<int64_t>& spec) {
    Shape s(spec.begin(), spec.end());
    s[0] = xs[0];
    return s;
  };
  NodeDef reshape;
  reshape.name = node.name() + "/split";
  reshape.op = OpKind::kReshape;
  reshape.inputs = {x};
  reshape.attrs.set_ints("shape", split);
  const Shape split_shape = shape_of_spec(split);
  reshape.outputs = {add_value(node.output(0) + "/split", split_shape)};
  model_.nodes.push_back(reshape);
  NodeDef transpose;
  transpose.name = node.name() + "/move";
  transpose.op = OpKind::kTranspose;
  transpose.inputs = reshape.outputs;
  transpose.attrs.set_ints("perm", perm);
  Shape moved(perm.size());
  for (size_t d = 0; d < perm.size(); ++d) {
    moved[d] = split_shape[static_cast<size_t>(perm[d])];
  }
  transpose.outputs = {add_value(node.output(0) + "/move", moved)};
  model_.nodes.push_back(transpose);
  NodeDef back;
  back.op = OpKind::kReshape;
  back.inputs = transpose.outputs;
  back.attrs.set_ints("shape", joined);
  add_simple(node, std::move(back), shape_of_spec(joined));
}

SPRUCE_ONNX_RULE(depth_to_space, {"DepthToSpace", "SpaceToDepth"},
                 ImportRule::kNone, /*weight_inputs=*/{});

}  // namespace spruce::converters
