// Elementwise operations shared by the converter and the runtime; the values
// are their codes in a .spruce file.
#ifndef SPRUCE_ELEMENTWISE_OPS_H_
#define SPRUCE_ELEMENTWISE_OPS_H_

#include <cstdint>

namespace spruce {

// Binary's functions, listed in ops/binary_list.inc.
enum class BinaryOp : uint8_t {
#define SPRUCE_BINARY(name, code, onnx, f) k##name = code,
#include "ops/binary_list.inc"
#undef SPRUCE_BINARY
};

// Unary's functions, listed in ops/unary_list.inc.
enum class UnaryOp : uint8_t {
#define SPRUCE_UNARY(name, code, onnx, a_name, a_default, b_name, b_default, \
                     f)                                                    \
  k##name = code,
#include "ops/unary_list.inc"
#undef SPRUCE_UNARY
};

// Reduce's reductions, listed in ops/reduce_list.inc.
enum class ReduceOp : uint8_t {
#define SPRUCE_REDUCE(name, code, onnx, start, step, end) k##name = code,
#include "ops/reduce_list.inc"
#undef SPRUCE_REDUCE
};
// Whether `code` is a ReduceOp this build knows.
bool is_reduce_op(int64_t code);

const char* binary_op_name(BinaryOp op);
// Whether `code` is a BinaryOp this build knows.
bool is_binary_op(int64_t code);
const char* unary_op_name(UnaryOp op);
// Whether `code` is a UnaryOp this build knows.
bool is_unary_op(int64_t code);

}  // namespace spruce

#endif  // SPRUCE_ELEMENTWISE_OPS_H_
