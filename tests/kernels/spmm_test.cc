// spmm_csr and spmm_bsr against their scalar references on every compiled
// SIMD target: shapes with 1, odd and prime sizes, empty rows, sparsities
// 0%-100%, both index widths, every block shape, every epilogue.
#include "spruce/kernels/spmm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "hwy/tests/hwy_gtest.h"
#include "kernels/kernel_test_util.h"
#include "spruce/kernels/block_shapes.h"
#include "spruce/sparse_matrix.h"

namespace spruce::kernels {
namespace {

using test_util::random_block_sparse;
using test_util::kActivations;
using test_util::random_sparse;
using test_util::uniform_values;

// The same matrix with 32-bit column indices, whatever its width.
struct Csr32 {
  std::vector<uint32_t> cols;
  CsrView view;
};
Csr32 widen(const CsrMatrix& m) {
  Csr32 out;
  for (size_t k = 0; k < m.nnz(); ++k) {
    out.cols.push_back(static_cast<uint32_t>(m.col(k)));
  }
  out.view = m.view();
  out.view.col_idx = out.cols.data();
  out.view.index_width = IndexWidth::k32;
  return out;
}

class SpmmTester {
 public:
  SpmmTester& rows(size_t v) {
    rows_ = v;
    return *this;
  }
  SpmmTester& cols(size_t v) {
    cols_ = v;
    return *this;
  }
  SpmmTester& n(size_t v) {
    n_ = v;
    return *this;
  }
  SpmmTester& sparsity(double v) {
    sparsity_ = v;
    return *this;
  }
  SpmmTester& activation(Activation v) {
    activation_ = v;
    return *this;
  }
  SpmmTester& bias(bool v) {
    bias_ = v;
    return *this;
  }
  // y += W·X: the output starts with random values both sides see.
  SpmmTester& accumulate(bool v) {
    accumulate_ = v;
    return *this;
  }
  SpmmTester& wide_indices(bool v) {
    wide_ = v;
    return *this;
  }
  SpmmTester& block(size_t r, size_t c) {
    block_rows_ = r;
    block_cols_ = c;
    return *this;
  }

  void Test() const {
    if (block_rows_ != 0) return TestBsr();
    std::mt19937 rng(static_cast<uint32_t>(rows_ * 131 + cols_ * 7 + n_));
    const auto dense = random_sparse(rows_, cols_, sparsity_, &rng);
    const CsrMatrix m = CsrMatrix::from_dense(dense.data(), rows_, cols_);
    const Csr32 wide = widen(m);
    const CsrView view = wide_ ? wide.view : m.view();
    const std::vector<float> x = uniform_values(cols_ * n_, &rng);
    const std::vector<float> b = uniform_values(rows_, &rng);
    const Epilogue epilogue{bias_ ? b.data() : nullptr, activation_,
                            accumulate_};
    std::vector<float> expected = StartingOutput(&rng), actual = expected;
    spmm_csr_reference(view, x.data(), n_, expected.data(), epilogue, 0, rows_);
    // Two row ranges, as a threaded caller would split them.
    const size_t mid = rows_ / 3;
    spmm_csr(view, x.data(), n_, actual.data(), epilogue, 0, mid);
    spmm_csr(view, x.data(), n_, actual.data(), epilogue, mid, rows_);
    for (size_t r = 0; r < rows_; ++r) {
      const size_t row_nnz = view.row_ptr[r + 1] - view.row_ptr[r];
      Compare(expected, actual, r, row_nnz, "csr");
    }
  }

 private:
  // What Y holds before the product: -7 (to be overwritten), or random
  // partial sums to accumulate onto.
  std::vector<float> StartingOutput(std::mt19937* rng) const {
    if (accumulate_) return uniform_values(rows_ * n_, rng);
    return std::vector<float>(rows_ * n_, -7.0f);
  }

  void TestBsr() const {
    std::mt19937 rng(static_cast<uint32_t>(rows_ * 131 + cols_ * 7 + n_));
    const auto dense = random_block_sparse(rows_, cols_, block_rows_,
                                           block_cols_, sparsity_, &rng);
    const BsrMatrix m = BsrMatrix::from_dense(dense.data(), rows_, cols_,
                                              block_rows_, block_cols_);
    BsrView view = m.view();
    std::vector<uint32_t> wide_cols;
    if (wide_) {
      for (size_t k = 0; k < m.nnz_blocks(); ++k) {
        wide_cols.push_back(static_cast<uint32_t>(m.block_col(k)));
      }
      view.col_idx = wide_cols.data();
      view.index_width = IndexWidth::k32;
    }
    const std::vector<float> x = uniform_values(cols_ * n_, &rng);
    const std::vector<float> b = uniform_values(rows_, &rng);
    const Epilogue epilogue{bias_ ? b.data() : nullptr, activation_,
                            accumulate_};
    std::vector<float> expected = StartingOutput(&rng), actual = expected;
    const size_t block_rows = view.row_blocks();
    spmm_bsr_reference(view, x.data(), n_, expected.data(), epilogue, 0,
                       block_rows);
    const size_t mid = block_rows / 3;
    spmm_bsr(view, x.data(), n_, actual.data(), epilogue, 0, mid);
    spmm_bsr(view, x.data(), n_, actual.data(), epilogue, mid, block_rows);
    for (size_t r = 0; r < rows_; ++r) {
      const size_t br = r / block_rows_;
      const size_t row_nnz =
          (view.row_ptr[br + 1] - view.row_ptr[br]) * block_cols_;
      Compare(expected, actual, r, row_nnz,
              "bsr " + std::to_string(block_rows_) + "x" +
                  std::to_string(block_cols_));
    }
  }

  void Compare(const std::vector<float>& expected,
               const std::vector<float>& actual, size_t r, size_t row_nnz,
               const std::string& kind) const {
    for (size_t j = 0; j < n_; ++j) {
      const float e = expected[r * n_ + j];
      // float accumulation in a different order vs a double reference, and
      // float activations vs double ones.
      const float tolerance =
          1e-5f * (1.0f + static_cast<float>(row_nnz)) + 2e-6f * std::abs(e);
      ASSERT_NEAR(actual[r * n_ + j], e, tolerance)
          << kind << " row " << r << " col " << j << " of " << rows_ << "x"
          << cols_ << " n=" << n_ << " sparsity=" << sparsity_
          << " activation=" << static_cast<int>(activation_)
          << (wide_ ? " 32-bit" : " 16-bit");
    }
  }

  size_t rows_ = 1, cols_ = 1, n_ = 1;
  double sparsity_ = 0.9;
  Activation activation_ = Activation::kNone;
  bool bias_ = false;
  bool wide_ = false;
  bool accumulate_ = false;
  size_t block_rows_ = 0, block_cols_ = 0;  // 0: CSR
};

HWY_BEFORE_TEST(SpmmCsr);

TEST_P(SpmmCsr, MatchesReferenceOverShapesAndSparsities) {
  const size_t dims[] = {1, 2, 7, 16, 17, 61, 128};
  const size_t ns[] = {1, 2, 3, 5, 8, 15, 16, 17, 31, 33, 63, 64, 67, 128, 205};
  for (double s : {0.0, 0.5, 0.9, 0.99, 1.0}) {
    for (size_t rows : dims) {
      for (size_t cols : dims) {
        for (size_t n : ns) {
          SpmmTester().rows(rows).cols(cols).n(n).sparsity(s).Test();
        }
      }
    }
  }
}

TEST_P(SpmmCsr, BothIndexWidthsAgree) {
  for (size_t n : {1, 4, 16, 37}) {
    for (double s : {0.0, 0.7, 0.999}) {
      SpmmTester()
          .rows(33)
          .cols(257)
          .n(n)
          .sparsity(s)
          .wide_indices(true)
          .Test();
      SpmmTester()
          .rows(33)
          .cols(257)
          .n(n)
          .sparsity(s)
          .wide_indices(false)
          .Test();
    }
  }
}

TEST_P(SpmmCsr, ThirtyTwoBitIndicesForWideMatrices) {
  // 70000 columns need 32-bit indices; rows sparse enough to stay small.
  std::mt19937 rng(1);
  const size_t rows = 5, cols = 70000;
  const auto dense = random_sparse(rows, cols, 0.999, &rng);
  const CsrMatrix m = CsrMatrix::from_dense(dense.data(), rows, cols);
  ASSERT_EQ(m.index_width(), IndexWidth::k32);
  for (size_t n : {1, 3, 16}) {
    std::vector<float> x(cols * n, 0.5f), expected(rows * n), actual(rows * n);
    spmm_csr_reference(m.view(), x.data(), n, expected.data(), {}, 0, rows);
    spmm_csr(m.view(), x.data(), n, actual.data(), {}, 0, rows);
    for (size_t i = 0; i < expected.size(); ++i) {
      ASSERT_NEAR(actual[i], expected[i], 1e-3f) << i;
    }
  }
}

TEST_P(SpmmCsr, FusedBiasAndActivations) {
  for (size_t n : {1, 5, 16, 70, 128}) {
    for (Activation a : kActivations) {
      SpmmTester()
          .rows(45)
          .cols(91)
          .n(n)
          .sparsity(0.8)
          .bias(true)
          .activation(a)
          .Test();
    }
  }
}

// ldx = 1 with element offsets as column indices (direct convolution), and
// output rows wider than the columns computed: only x[offset + j], j < n, is
// read, and only y[r * ldy + j], j < n, written.
TEST_P(SpmmCsr, StridedOffsetsMatchReference) {
  std::mt19937 rng(7);
  for (size_t n : {1, 3, 17, 63, 200}) {
    const size_t rows = 23, cols = 40, ldy = n + 5;
    const auto dense = random_sparse(rows, cols, 0.7, &rng);
    CsrMatrix m = CsrMatrix::from_dense(dense.data(), rows, cols);
    Csr32 wide = widen(m);
    // Column c becomes offset 3 * c + (c % 3): scattered, overlapping reads.
    for (uint32_t& c : wide.cols) c = 3 * c + c % 3;
    const size_t x_size = 3 * cols + 3 + n;
    const std::vector<float> x = uniform_values(x_size, &rng);
    const std::vector<float> b = uniform_values(rows, &rng);
    const Epilogue epilogue{b.data(), Activation::kRelu6};
    std::vector<float> expected(rows * ldy, -7.0f), actual(rows * ldy, -7.0f);
    spmm_csr_strided_reference(wide.view, x.data(), 1, n, expected.data(), ldy,
                               epilogue, 0, rows);
    spmm_csr_strided(wide.view, x.data(), 1, n, actual.data(), ldy, epilogue, 0,
                     rows);
    for (size_t k = 0; k < rows * ldy; ++k) {
      if (k % ldy >= n) {
        ASSERT_EQ(actual[k], -7.0f) << "wrote past n at " << k;
        continue;
      }
      ASSERT_NEAR(actual[k], expected[k], 1e-4f) << "n=" << n << " at " << k;
    }
  }
}

// The shifted form (spmm_csr_shifted): rows split into shift classes, every
// offset a multiple of 16, x 64-byte aligned, over widths of one vector to
// several tiles and a partial one, each epilogue, rows split as threads do.
TEST_P(SpmmCsr, ShiftedClassesMatchReference) {
  std::mt19937 rng(11);
  const std::vector<std::vector<uint32_t>> shift_sets = {
      {0}, {0, 1, 2}, {1, 2}, {0, 3, 9, 15}, {7}, {4, 5, 6, 8, 12, 14}};
  for (const std::vector<uint32_t>& shifts : shift_sets) {
    for (size_t n : {16, 48, 128, 144, 256, 400}) {
      for (const bool accumulate : {false, true}) {
        const size_t rows = 19, vectors = 40, ldy = n + 16;
        const size_t classes = shifts.size();
        // Row r's class k: non-zeros at random vector-aligned offsets,
        // some sub-rows empty.
        std::vector<uint32_t> row_ptr = {0}, cols;
        std::vector<float> values;
        std::uniform_int_distribution<size_t> count(0, 6), vec(0, vectors - 1);
        for (size_t sub = 0; sub < rows * classes; ++sub) {
          for (size_t e = count(rng); e > 0; --e) {
            cols.push_back(static_cast<uint32_t>(vec(rng) * 16));
            values.push_back(uniform_values(1, &rng)[0]);
          }
          row_ptr.push_back(static_cast<uint32_t>(cols.size()));
        }
        ShiftedCsrView w;
        w.csr.rows = rows * classes;
        w.csr.cols = vectors * 16;
        w.csr.row_ptr = row_ptr.data();
        w.csr.col_idx = cols.data();
        w.csr.index_width = IndexWidth::k32;
        w.csr.values = values.data();
        w.classes = classes;
        w.shifts = shifts.data();
        // Readable 16 floats past every offset + n, from a 64-byte boundary.
        const size_t x_size = vectors * 16 + n + 16;
        std::vector<float> storage(x_size + 16);
        float* x = storage.data();
        while (reinterpret_cast<uintptr_t>(x) % 64 != 0) ++x;
        const std::vector<float> values_x = uniform_values(x_size, &rng);
        std::copy(values_x.begin(), values_x.end(), x);
        const std::vector<float> b = uniform_values(rows, &rng);
        for (const Activation a :
             {Activation::kNone, Activation::kRelu6, Activation::kGelu}) {
          const Epilogue epilogue{b.data(), a, accumulate};
          std::vector<float> expected = uniform_values(rows * ldy, &rng);
          for (size_t k = 0; k < expected.size(); ++k) {
            if (k % ldy >= n) expected[k] = -7.0f;
          }
          std::vector<float> actual = expected;
          spmm_csr_shifted_reference(w, x, n, expected.data(), ldy, epilogue, 0,
                                     rows);
          spmm_csr_shifted(w, x, n, actual.data(), ldy, epilogue, 0, 7);
          spmm_csr_shifted(w, x, n, actual.data(), ldy, epilogue, 7, rows);
          for (size_t k = 0; k < rows * ldy; ++k) {
            if (k % ldy >= n) {
              ASSERT_EQ(actual[k], -7.0f) << "wrote past n at " << k;
              continue;
            }
            ASSERT_NEAR(actual[k], expected[k],
                        1e-5f * 20 + 2e-6f * std::abs(expected[k]))
                << "shifts " << classes << " n=" << n << " row " << k / ldy
                << " col " << k % ldy << " activation " << static_cast<int>(a)
                << " accumulate " << accumulate;
          }
        }
      }
    }
  }
}

TEST_P(SpmmCsr, AccumulatesOntoTheOutput) {
  for (size_t n : {1, 5, 16, 31, 63, 70, 128, 300}) {
    for (Activation a : {Activation::kNone, Activation::kGelu}) {
      for (bool bias : {false, true}) {
        SpmmTester()
            .rows(45)
            .cols(91)
            .n(n)
            .sparsity(0.8)
            .bias(bias)
            .activation(a)
            .accumulate(true)
            .Test();
      }
    }
  }
}

// X wide enough (3000 rows) that n = 300 is split into column slices.
TEST_P(SpmmCsr, ColumnSlicesOfWideInputs) {
  ASSERT_LT(column_slice_width(3000) + column_slice_width(3000) / 2, 300u);
  for (size_t n : {300, 333}) {
    SpmmTester().rows(20).cols(3000).n(n).sparsity(0.95).bias(true).Test();
    SpmmTester()
        .rows(20)
        .cols(3000)
        .n(n)
        .sparsity(0.95)
        .accumulate(true)
        .Test();
  }
}

TEST_P(SpmmCsr, EmptyRowsGiveBiasOnly) {
  const size_t rows = 4, cols = 9, n = 19;
  std::vector<float> dense(rows * cols, 0.0f);
  dense[1 * cols + 3] = 2.0f;  // only row 1 has a non-zero
  const CsrMatrix m = CsrMatrix::from_dense(dense.data(), rows, cols);
  std::vector<float> x(cols * n, 1.0f), y(rows * n, -1.0f);
  const float bias[] = {0.5f, -1.0f, -3.0f, 0.0f};
  spmm_csr(m.view(), x.data(), n, y.data(), {bias, Activation::kRelu}, 0, rows);
  for (size_t j = 0; j < n; ++j) {
    EXPECT_EQ(y[0 * n + j], 0.5f);
    EXPECT_EQ(y[1 * n + j], 1.0f);  // relu(2 - 1)
    EXPECT_EQ(y[2 * n + j], 0.0f);  // relu(-3)
    EXPECT_EQ(y[3 * n + j], 0.0f);
  }
}

HWY_BEFORE_TEST(SpmmBsr);

// Every specialized shape, and two the generic kernel runs.
const std::vector<std::pair<size_t, size_t>> kBlockShapes = [] {
  std::vector<std::pair<size_t, size_t>> shapes;
  for (const kernels::BlockShape& b : kernels::kBlockShapes) {
    shapes.emplace_back(b.rows, b.cols);
  }
  shapes.emplace_back(3, 2);
  shapes.emplace_back(1, 1);
  return shapes;
}();

TEST_P(SpmmBsr, MatchesReferenceForEveryBlockShape) {
  const size_t dims[] = {1, 7, 16, 33, 64};
  const size_t ns[] = {1, 2, 5, 7, 16, 17, 35, 63, 100, 127, 128, 131};
  for (auto [br, bc] : kBlockShapes) {
    for (double s : {0.0, 0.6, 0.95, 1.0}) {
      for (size_t rows : dims) {
        for (size_t cols : dims) {
          for (size_t n : ns) {
            SpmmTester()
                .rows(rows)
                .cols(cols)
                .n(n)
                .sparsity(s)
                .block(br, bc)
                .Test();
          }
        }
      }
    }
  }
}

TEST_P(SpmmBsr, BothIndexWidthsAndEveryActivation) {
  for (auto [br, bc] : kBlockShapes) {
    for (Activation a : kActivations) {
      for (size_t n : {1, 3, 6, 20, 64}) {
        SpmmTester()
            .rows(48)
            .cols(80)
            .n(n)
            .sparsity(0.8)
            .block(br, bc)
            .bias(true)
            .activation(a)
            .wide_indices(true)
            .Test();
        SpmmTester()
            .rows(48)
            .cols(80)
            .n(n)
            .sparsity(0.8)
            .block(br, bc)
            .bias(true)
            .activation(a)
            .wide_indices(false)
            .Test();
      }
    }
  }
}

TEST_P(SpmmBsr, AccumulatesOntoTheOutput) {
  for (auto [br, bc] : kBlockShapes) {
    for (size_t n : {1, 3, 7, 20, 63, 64, 100, 131}) {
      SpmmTester()
          .rows(48)
          .cols(80)
          .n(n)
          .sparsity(0.7)
          .block(br, bc)
          .bias(true)
          .activation(Activation::kRelu)
          .accumulate(true)
          .Test();
    }
  }
  for (size_t n : {300, 333}) {
    SpmmTester()
        .rows(16)
        .cols(3000)
        .n(n)
        .sparsity(0.9)
        .block(4, 1)
        .accumulate(true)
        .Test();
  }
}

// A column slice of X and Y inside wider matrices: only columns [0, n) of
// rows ldx and ldy apart are read and written.
TEST_P(SpmmBsr, StridedSliceMatchesReference) {
  std::mt19937 rng(11);
  for (auto [br, bc] : kBlockShapes) {
    for (size_t n : {1, 7, 40, 130}) {
      const size_t rows = 24, cols = 36, ldx = n + 9, ldy = n + 4;
      const auto dense = random_block_sparse(rows, cols, br, bc, 0.6, &rng);
      const BsrMatrix m =
          BsrMatrix::from_dense(dense.data(), rows, cols, br, bc);
      const std::vector<float> x = uniform_values(cols * ldx, &rng);
      const std::vector<float> b = uniform_values(rows, &rng);
      const Epilogue epilogue{b.data(), Activation::kNone, true};
      std::vector<float> expected = uniform_values(rows * ldy, &rng);
      std::vector<float> actual = expected;
      const size_t blocks = m.view().row_blocks();
      spmm_bsr_strided_reference(m.view(), x.data(), ldx, n, expected.data(),
                                 ldy, epilogue, 0, blocks);
      spmm_bsr_strided(m.view(), x.data(), ldx, n, actual.data(), ldy, epilogue,
                       0, blocks);
      for (size_t k = 0; k < rows * ldy; ++k) {
        if (k % ldy >= n) {
          ASSERT_EQ(actual[k], expected[k]) << "wrote past n at " << k;
          continue;
        }
        ASSERT_NEAR(actual[k], expected[k], 1e-4f)
            << br << "x" << bc << " n=" << n << " at " << k;
      }
    }
  }
}

// Activations far into their tails: saturation, no NaN, GELU's left tail
// with full relative precision.
TEST_P(SpmmCsr, ActivationsHoldInTheTails) {
  const size_t n = 37;
  const float xs[] = {-100.0f, -30.0f, -9.0f, -3.0f, -0.5f, -1e-3f, 0.0f,
                      1e-3f,   0.5f,   3.0f,  9.0f,  30.0f, 100.0f};
  const size_t rows = std::size(xs);
  // W = I, so y = act(x + 0): the activation of each row's input.
  std::vector<float> dense(rows * rows, 0.0f), x(rows * n);
  for (size_t r = 0; r < rows; ++r) {
    dense[r * rows + r] = 1.0f;
    for (size_t j = 0; j < n; ++j) x[r * n + j] = xs[r];
  }
  const CsrMatrix m = CsrMatrix::from_dense(dense.data(), rows, rows);
  for (Activation a : kActivations) {
    for (size_t cols : {size_t{1}, n}) {
      std::vector<float> y(rows * cols);
      std::vector<float> xc(rows * cols);
      for (size_t r = 0; r < rows; ++r) {
        for (size_t j = 0; j < cols; ++j) xc[r * cols + j] = xs[r];
      }
      spmm_csr(m.view(), xc.data(), cols, y.data(), {nullptr, a}, 0, rows);
      for (size_t r = 0; r < rows; ++r) {
        const double e = activate_reference(xs[r], a);
        for (size_t j = 0; j < cols; ++j) {
          const float v = y[r * cols + j];
          ASSERT_FALSE(std::isnan(v)) << static_cast<int>(a) << " x=" << xs[r];
          ASSERT_NEAR(v, e, 1e-6 + 2e-6 * std::abs(e))
              << "activation " << static_cast<int>(a) << " x=" << xs[r];
        }
      }
    }
  }
}

}  // namespace
}  // namespace spruce::kernels
