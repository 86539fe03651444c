// spmm_csr against its scalar reference on every compiled SIMD target:
// shapes with 1, odd and prime sizes, empty rows, sparsities 0%-100%, both
// index widths, every epilogue.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "hwy/tests/hwy_gtest.h"
#include "spruce/kernels/spmm.h"
#include "spruce/sparse_matrix.h"

namespace spruce::kernels {
namespace {

// Random weights where a fraction `sparsity` of entries is exactly 0.
std::vector<float> random_sparse(size_t rows, size_t cols, double sparsity,
                                 std::mt19937* rng) {
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  std::vector<float> w(rows * cols);
  for (float& v : w) v = keep(*rng) < sparsity ? 0.0f : value(*rng);
  return w;
}

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
  SpmmTester& rows(size_t v) { rows_ = v; return *this; }
  SpmmTester& cols(size_t v) { cols_ = v; return *this; }
  SpmmTester& n(size_t v) { n_ = v; return *this; }
  SpmmTester& sparsity(double v) { sparsity_ = v; return *this; }
  SpmmTester& activation(Activation v) { activation_ = v; return *this; }
  SpmmTester& bias(bool v) { bias_ = v; return *this; }
  SpmmTester& wide_indices(bool v) { wide_ = v; return *this; }

  void Test() const {
    std::mt19937 rng(static_cast<uint32_t>(rows_ * 131 + cols_ * 7 + n_));
    const auto dense = random_sparse(rows_, cols_, sparsity_, &rng);
    const CsrMatrix m = CsrMatrix::from_dense(dense.data(), rows_, cols_);
    const Csr32 wide = widen(m);
    const CsrView view = wide_ ? wide.view : m.view();
    std::uniform_real_distribution<float> value(-1.0f, 1.0f);
    std::vector<float> x(cols_ * n_), b(rows_);
    for (float& v : x) v = value(rng);
    for (float& v : b) v = value(rng);
    const Epilogue epilogue{bias_ ? b.data() : nullptr, activation_};

    std::vector<float> expected(rows_ * n_, -7.0f), actual(rows_ * n_, -7.0f);
    spmm_csr_reference(view, x.data(), n_, expected.data(), epilogue, 0, rows_);
    // Two row ranges, as a threaded caller would split them.
    const size_t mid = rows_ / 3;
    spmm_csr(view, x.data(), n_, actual.data(), epilogue, 0, mid);
    spmm_csr(view, x.data(), n_, actual.data(), epilogue, mid, rows_);
    for (size_t r = 0; r < rows_; ++r) {
      const size_t row_nnz = view.row_ptr[r + 1] - view.row_ptr[r];
      for (size_t j = 0; j < n_; ++j) {
        const float e = expected[r * n_ + j];
        // float accumulation in a different order vs a double reference.
        const float tolerance = 1e-5f * (1.0f + static_cast<float>(row_nnz));
        ASSERT_NEAR(actual[r * n_ + j], e, tolerance)
            << "row " << r << " col " << j << " of " << rows_ << "x" << cols_
            << " n=" << n_ << " sparsity=" << sparsity_
            << (wide_ ? " 32-bit" : " 16-bit");
      }
    }
  }

 private:
  size_t rows_ = 1, cols_ = 1, n_ = 1;
  double sparsity_ = 0.9;
  Activation activation_ = Activation::kNone;
  bool bias_ = false;
  bool wide_ = false;
};

HWY_BEFORE_TEST(SpmmCsr);

TEST_P(SpmmCsr, MatchesReferenceOverShapesAndSparsities) {
  const size_t dims[] = {1, 2, 7, 16, 17, 61, 128};
  const size_t ns[] = {1, 2, 3, 5, 8, 15, 16, 17, 31, 33, 64, 67, 128};
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
      SpmmTester().rows(33).cols(257).n(n).sparsity(s).wide_indices(true).Test();
      SpmmTester().rows(33).cols(257).n(n).sparsity(s).wide_indices(false).Test();
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

TEST_P(SpmmCsr, FusedBiasAndRelu) {
  for (size_t n : {1, 5, 16, 70}) {
    for (Activation a : {Activation::kNone, Activation::kRelu}) {
      SpmmTester().rows(45).cols(91).n(n).sparsity(0.8).bias(true).activation(a).Test();
    }
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

}  // namespace
}  // namespace spruce::kernels
