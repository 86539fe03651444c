// Elementwise operations shared by the converter and the runtime; the values
// are their codes in a .spruce file.
#ifndef SPRUCE_ELEMENTWISE_OPS_H_
#define SPRUCE_ELEMENTWISE_OPS_H_

#include <cstdint>

namespace spruce {

enum class BinaryOp : uint8_t {
  kAdd = 0,
  kSub = 1,
  kMul = 2,
  kDiv = 3,
  kPow = 4,
  kEqual = 5,  // 1 where equal, else 0
};

enum class UnaryOp : uint8_t {
  kSqrt = 0,
  kErf = 1,
  kTanh = 2,
  kGelu = 3,  // x · Φ(x) = x · (1 + erf(x / √2)) / 2
  kExp = 4,
  kSigmoid = 5,
  kNeg = 6,
  kAbs = 7,
  kCastBool = 8,  // 1 where x != 0, else 0
  kTrunc = 9,     // rounds toward zero
  kReciprocal = 10,
};
constexpr uint8_t kMaxUnaryOp = 10;
constexpr uint8_t kMaxBinaryOp = 5;

const char* binary_op_name(BinaryOp op);
const char* unary_op_name(UnaryOp op);

}  // namespace spruce

#endif  // SPRUCE_ELEMENTWISE_OPS_H_
