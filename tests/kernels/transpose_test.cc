// transpose against its reference on every compiled SIMD target: sizes that
// are and are not multiples of the 4×4 blocks and 32×32 tiles, and strided
// source and destination (only the transposed region is written).
#include "spruce/kernels/transpose.h"

#include <gtest/gtest.h>

#include <vector>

#include "hwy/tests/hwy_gtest.h"

namespace spruce::kernels {
namespace {

HWY_BEFORE_TEST(Transpose);

TEST_P(Transpose, MatchesReference) {
  const size_t sizes[] = {1, 2, 3, 4, 5, 17, 32, 33, 64, 100};
  for (size_t rows : sizes) {
    for (size_t cols : sizes) {
      for (size_t pad : {0, 3}) {
        const size_t ldx = cols + pad, ldy = rows + pad;
        std::vector<float> x(rows * ldx);
        for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
        std::vector<float> expected(cols * ldy, -1.0f), actual = expected;
        transpose_reference(x.data(), rows, cols, ldx, expected.data(), ldy);
        transpose(x.data(), rows, cols, ldx, actual.data(), ldy);
        ASSERT_EQ(actual, expected) << rows << "x" << cols << " pad " << pad;
      }
    }
  }
}

}  // namespace
}  // namespace spruce::kernels
