// transpose against its reference on every compiled SIMD target: sizes that
// are and are not multiples of the 4×4 blocks and 32×32 tiles, and strided
// source and destination (only the transposed region is written); the
// split into stride phases on every stride, padding and tail width.
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

// Every stride up to 3 in each direction, paddings before and after, plane
// rows as wide as the padded row or wider (the aligned layout), planes with
// a gap between them, and phases left out (a 1x1 stride-2 window reads one
// of four). The image sits in a buffer of its own (a read past it is out of
// bounds under the sanitizers); what the split must not write (the gaps,
// the planes of phases left out) keeps its sentinel.
TEST_P(Transpose, SplitPhasesMatchesReference) {
  const size_t sizes[] = {1, 2, 3, 5, 8, 14, 17, 33, 56};
  for (size_t sh = 1; sh <= 3; ++sh) {
    for (size_t sw = 1; sw <= 3; ++sw) {
      for (size_t h : sizes) {
        for (size_t w : sizes) {
          for (size_t pad : {0, 1, 3}) {
            for (size_t wider : {0, 5}) {
              for (int phases : {0, 1, 2}) {
                std::vector<float> x(h * w);
                for (size_t i = 0; i < x.size(); ++i) {
                  x[i] = static_cast<float>(i) + 0.5f;
                }
                std::vector<int> phase_plane(sh * sw);
                int planes = 0;
                for (size_t k = 0; k < phase_plane.size(); ++k) {
                  // Read: all phases, every other one, or only the first.
                  const bool read =
                      phases == 0 || (phases == 1 ? k % 2 == 0 : k == 0);
                  phase_plane[k] = read ? planes++ : -1;
                }
                PhaseSplit s;
                s.h = h;
                s.w = w;
                s.sh = sh;
                s.sw = sw;
                s.top = pad;
                s.left = pad;
                s.rows = (h + 2 * pad + sh - 1) / sh;
                s.pitch = (w + 2 * pad + sw - 1) / sw + wider;
                s.plane_size = s.rows * s.pitch + 3;
                s.phase_plane = phase_plane.data();
                // One plane past the last index: the sentinel of a phase
                // left out sits where its plane would be.
                std::vector<float> expected(
                    (static_cast<size_t>(planes) + 1) * s.plane_size, -1.0f);
                std::vector<float> actual = expected;
                split_phases_reference(x.data(), s, expected.data());
                split_phases(x.data(), s, actual.data());
                ASSERT_EQ(actual, expected)
                    << h << "x" << w << " stride " << sh << "x" << sw << " pad "
                    << pad << " wider " << wider << " phases " << phases;
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace spruce::kernels
