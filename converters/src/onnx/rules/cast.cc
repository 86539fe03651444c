// ONNX Cast, and CastLike (a Cast to its second input's type).
#include "onnx/importer.h"

namespace spruce::converters {

// Values are floats inside spruce: a Cast to float32 is free, to an integer
// type rounds toward zero (free from another integer type: a value out of
// the target's range is not wrapped), to bool tests for non-zero.
void Importer::import_cast(const onnx::NodeProto& node) {
  const bool like = node.op_type() == "CastLike";
  if (node.input_size() != (like ? 2 : 1)) {
    fail(node, like ? "needs 2 inputs (input, target_type)" : "needs 1 input");
  }
  const int64_t to =
      like ? onnx_type_of(dtype_of(node.input(1))) : attr_int(node, "to", 0);
  const uint32_t x = operand(node, node.input(0));
  const DataType from = dtype_of(node.input(0));
  const bool from_int = is_integer(from);
  UnaryOp op;
  switch (to) {
    case onnx::TensorProto::FLOAT:
      values_[node.output(0)] = x;
      return;
    // Every value inside spruce is float32: as a no-op these would skip
    // the rounding (or widening) the model asks for.
    case onnx::TensorProto::FLOAT16:
      fail(node,
           "Cast to float16 is not supported (spruce computes in "
           "float32 and would not round to half precision)");
    case onnx::TensorProto::BFLOAT16:
      fail(node,
           "Cast to bfloat16 is not supported (spruce computes in "
           "float32 and would not round to bfloat16)");
    case onnx::TensorProto::DOUBLE:
      fail(node,
           "Cast to double is not supported (spruce computes in "
           "float32)");
    case onnx::TensorProto::INT64:
    case onnx::TensorProto::INT32:
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::UINT64:
    case onnx::TensorProto::UINT32:
    case onnx::TensorProto::UINT16:
    case onnx::TensorProto::UINT8:
      if (from_int) {
        values_[node.output(0)] = x;
        return;
      }
      op = UnaryOp::kTrunc;
      break;
    case onnx::TensorProto::BOOL:
      if (from == DataType::kBool) {
        values_[node.output(0)] = x;
        return;
      }
      op = UnaryOp::kCastBool;
      break;
    default:
      fail(node, "Cast to " + onnx_type_name(static_cast<int>(to)) +
                     " is not supported");
  }
  NodeDef n;
  n.op = OpKind::kUnary;
  n.attrs.set_int("op", static_cast<int64_t>(op));
  n.inputs = {x};
  const Shape shape = model_.values[x].shape;
  add_simple(node, std::move(n), shape);
}

SPRUCE_ONNX_RULE(cast, {"Cast", "CastLike"}, ImportRule::kNone,
                 /*weight_inputs=*/{});

}  // namespace spruce::converters
