// The Binary op's broadcast patterns (equal shapes, a scalar, a per-channel
// term in NCHW and channels-last, on either side) against the general
// broadcast loop, for the ops the Highway kernel runs and for ones that
// keep scalar loops.
#include "tensor_ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace spruce {
namespace {

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-4.0f, 4.0f);
  std::vector<float> v(n);
  for (float& x : v) x = uniform(rng);
  return v;
}

// The op's scalar function, straight from the list the runtime's loops
// come from.
float scalar(BinaryOp op, float p, float q) {
  switch (op) {
#define SPRUCE_BINARY(name, code, onnx, f) \
  case BinaryOp::k##name:                  \
    return f;
#include "ops/binary_list.inc"
#undef SPRUCE_BINARY
  }
  return 0.0f;
}

TEST(TensorOps, BinaryPatternsMatchTheGeneralBroadcast) {
  const Shape nchw{2, 5, 3, 7};
  const Shape nhwc{2, 3, 7, 5};
  struct Case {
    Shape full, part;
  };
  const std::vector<Case> cases = {
      {nchw, nchw},            // equal
      {nchw, {1}},             // scalar
      {nchw, {}},              // rank-0 scalar
      {nchw, {2, 5, 1, 1}},    // squeeze-excite's scale, NCHW
      {nchw, {2, 1, 1, 1}},    // one value per image
      {nhwc, {1, 1, 1, 5}},    // per channel, channels-last
      {nhwc, {5}},             // a bias over the last axis
      {nhwc, {7, 5}},          // trailing dimensions
      {{4, 6}, {4, 1}},        // per row
      {{4, 6}, {1, 6}},        // per column
      {nchw, {1, 5, 1, 1}},    // neither pattern: the general loop
      {{2, 3, 4}, {2, 1, 4}},  // neither
  };
  for (const BinaryOp op :
       {BinaryOp::kAdd, BinaryOp::kSub, BinaryOp::kMul, BinaryOp::kDiv,
        BinaryOp::kMax, BinaryOp::kPRelu, BinaryOp::kLess}) {
    for (const Case& c : cases) {
      for (const bool part_first : {false, true}) {
        const std::vector<float> full = random_values(element_count(c.full), 1);
        const std::vector<float> part = random_values(element_count(c.part), 2);
        const float* a = part_first ? part.data() : full.data();
        const float* b = part_first ? full.data() : part.data();
        const Shape& as = part_first ? c.part : c.full;
        const Shape& bs = part_first ? c.full : c.part;
        const size_t count = element_count(c.full);
        std::vector<float> y(count, -9.0f), want(count, -8.0f);
        binary(op, a, as, b, bs, y.data(), c.full);
        // The general loop, with the op's scalar function.
        broadcast_map<2>({a, b}, {&as, &bs}, c.full, want.data(),
                         [op](float p, float q) { return scalar(op, p, q); });
        for (size_t k = 0; k < count; ++k) {
          ASSERT_EQ(std::memcmp(&y[k], &want[k], sizeof(float)), 0)
              << "op " << static_cast<int>(op) << " part first " << part_first
              << " at " << k << ": " << y[k] << " vs " << want[k];
        }
      }
    }
  }
}

}  // namespace
}  // namespace spruce
