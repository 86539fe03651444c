// transpose against its reference on every compiled SIMD target: sizes that
// are and are not multiples of the 4×4 blocks and 32×32 tiles, and strided
// source and destination (only the transposed region is written); the
// strided gather on every stride and tail width.
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

TEST_P(Transpose, GatherStrideMatchesReference) {
  for (size_t stride : {1, 2, 3, 4, 5}) {
    for (size_t count : {0, 1, 2, 7, 8, 9, 15, 16, 17, 33, 56, 113}) {
      // Exactly the elements the gather may read, in a buffer of their own
      // so that a read past x[(count - 1) · stride] is out of bounds (the
      // sanitizer builds catch it).
      const size_t reach = count > 0 ? (count - 1) * stride + 1 : 0;
      std::vector<float> x(reach);
      for (size_t i = 0; i < reach; ++i) x[i] = static_cast<float>(i) + 0.5f;
      std::vector<float> expected(count + 1, -1.0f), actual = expected;
      gather_stride_reference(x.data(), stride, count, expected.data());
      gather_stride(x.data(), stride, count, actual.data());
      ASSERT_EQ(actual, expected) << "stride " << stride << " count " << count;
    }
  }
}

}  // namespace
}  // namespace spruce::kernels
