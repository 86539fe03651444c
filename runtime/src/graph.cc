// Names and weight helpers of the graph description (each op's shape rule
// lives in its file under ops/).
#include "graph.h"

#include <algorithm>

#include "spruce/error.h"
#include "spruce/sparse_matrix.h"

namespace spruce {

const char* binary_op_name(BinaryOp op) {
  switch (op) {
#define SPRUCE_BINARY(name, code, onnx, f) \
  case BinaryOp::k##name:                  \
    return #name;
#include "ops/binary_list.inc"
#undef SPRUCE_BINARY
  }
  return "?";
}

bool is_reduce_op(int64_t code) {
  switch (code) {
#define SPRUCE_REDUCE(name, code, onnx, start, step, end) \
  case code:                                              \
    return true;
#include "ops/reduce_list.inc"
#undef SPRUCE_REDUCE
    default:
      return false;
  }
}

bool is_binary_op(int64_t code) {
  switch (code) {
#define SPRUCE_BINARY(name, code, onnx, f) \
  case code:                               \
    return true;
#include "ops/binary_list.inc"
#undef SPRUCE_BINARY
    default:
      return false;
  }
}

const char* unary_op_name(UnaryOp op) {
  switch (op) {
#define SPRUCE_UNARY(name, code, onnx, a_name, a_default, b_name, b_default, \
                     f)                                                    \
  case UnaryOp::k##name:                                                   \
    return #name;
#include "ops/unary_list.inc"
#undef SPRUCE_UNARY
  }
  return "?";
}

bool is_unary_op(int64_t code) {
  switch (code) {
#define SPRUCE_UNARY(name, code, onnx, a_name, a_default, b_name, b_default, \
                     f)                                                    \
  case code:                                                               \
    return true;
#include "ops/unary_list.inc"
#undef SPRUCE_UNARY
    default:
      return false;
  }
}

const char* activation_name(kernels::Activation activation) {
  switch (activation) {
    case kernels::Activation::kNone:
      return "";
    case kernels::Activation::kRelu:
      return "relu";
    case kernels::Activation::kRelu6:
      return "relu6";
    case kernels::Activation::kGelu:
      return "gelu";
    case kernels::Activation::kSigmoid:
      return "sigmoid";
    case kernels::Activation::kTanh:
      return "tanh";
    case kernels::Activation::kSilu:
      return "silu";
    case kernels::Activation::kHardSwish:
      return "hardswish";
    case kernels::Activation::kHardSigmoid:
      return "hardsigmoid";
  }
  return "?";
}

size_t WeightDesc::dense_count() const { return element_count(shape); }

double WeightDesc::sparsity() const {
  const size_t total = dense_count();
  if (total == 0) return 0.0;
  size_t nonzero = 0;
  for (size_t i = 0; i < value_count; ++i) nonzero += values[i] != 0.0f;
  return 1.0 - static_cast<double>(nonzero) / static_cast<double>(total);
}

std::vector<float> WeightDesc::to_dense() const {
  switch (layout) {
    case WeightLayout::kCsr:
      return spruce::to_dense(csr);
    case WeightLayout::kBsr:
      return spruce::to_dense(bsr);
    case WeightLayout::kDense:
      break;
  }
  return std::vector<float>(values, values + value_count);
}

}  // namespace spruce
