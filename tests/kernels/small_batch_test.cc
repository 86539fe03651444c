// The small-batch kernels against their scalar references on every compiled
// SIMD target: gemm_packed (dense W packed in panels) and spmm_lookup (rows
// as lanes, panel table lookups). Shapes around the panel and group sizes,
// every batch from 1 to past a block of rows, both activation layouts,
// every epilogue, and unsorted CSR columns; every element is compared
// within a bound scaled to its own terms, and the kernels must write
// nothing outside the outputs they own.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "hwy/tests/hwy_gtest.h"
#include "kernels/kernel_test_util.h"
#include "spruce/kernels/dense_packed.h"
#include "spruce/kernels/spmm_lookup.h"
#include "spruce/sparse_matrix.h"

namespace spruce::kernels {
namespace {

constexpr float kUntouched = -1234.5f;

using test_util::kActivations;
using test_util::random_sparse;
using test_util::uniform_values;

// |got − want| ≤ 1e-5·|want| + 1e-5·scale, where scale is the sum of the
// magnitudes of the terms that made `want` (float accumulation in another
// order than the double reference errs in proportion to it).
void ExpectElementClose(float got, double want, double scale,
                        const std::string& where) {
  const double tolerance = 1e-5 * std::abs(want) + 1e-5 * scale + 1e-30;
  ASSERT_NEAR(got, want, tolerance) << where;
}

// Y[n × rows] = act(X[n × cols] · Wᵀ + b) through either kernel, compared
// with the reference, element by element.
class SmallBatchTester {
 public:
  SmallBatchTester& rows(size_t v) {
    rows_ = v;
    return *this;
  }
  SmallBatchTester& cols(size_t v) {
    cols_ = v;
    return *this;
  }
  SmallBatchTester& n(size_t v) {
    n_ = v;
    return *this;
  }
  SmallBatchTester& sparsity(double v) {
    sparsity_ = v;
    return *this;
  }
  SmallBatchTester& activation(Activation v) {
    activation_ = v;
    return *this;
  }
  SmallBatchTester& bias(bool v) {
    bias_ = v;
    return *this;
  }
  SmallBatchTester& accumulate(bool v) {
    accumulate_ = v;
    return *this;
  }
  // X stored feature-major ([cols × n]) instead of row-major (dense only).
  SmallBatchTester& feature_major(bool v) {
    feature_major_ = v;
    return *this;
  }
  // Reverse each CSR row's column order (spmm_lookup must not rely on it).
  SmallBatchTester& unsorted(bool v) {
    unsorted_ = v;
    return *this;
  }
  SmallBatchTester& wide_indices(bool v) {
    wide_ = v;
    return *this;
  }

  void TestDense() const {
    std::mt19937 rng(Seed());
    const std::vector<float> w = random_sparse(rows_, cols_, sparsity_, &rng);
    Data data = MakeData(&rng);
    const size_t width = dense_panel_width();
    std::vector<float> packed(packed_dense_floats(rows_, cols_, width));
    pack_dense(w.data(), rows_, cols_, cols_, width, packed.data());
    const PackedDenseView view{rows_, cols_, width, packed.data()};
    const size_t xr = feature_major_ ? 1 : cols_;
    const size_t xc = feature_major_ ? n_ : 1;
    std::vector<float> want = data.y;
    dense_gemm_reference(w.data(), cols_, data.x.data(), xr, xc, n_,
                         want.data(), ldy(), data.epilogue, 0, rows_);
    // Two panel ranges, as threads split them.
    const size_t mid = view.panel_count() / 2;
    gemm_packed(view, data.x.data(), xr, xc, n_, data.y.data(), ldy(),
                data.epilogue, 0, mid);
    gemm_packed(view, data.x.data(), xr, xc, n_, data.y.data(), ldy(),
                data.epilogue, mid, view.panel_count());
    Compare(data.y, want, data, [&](size_t j, size_t r) {
      double s = 0;
      for (size_t k = 0; k < cols_; ++k)
        s += std::abs(w[r * cols_ + k] * data.x[j * xr + k * xc]);
      return s;
    });
  }

  void TestLookup() const {
    std::mt19937 rng(Seed());
    const std::vector<float> w = random_sparse(rows_, cols_, sparsity_, &rng);
    const CsrMatrix csr = CsrMatrix::from_dense(w.data(), rows_, cols_);
    // The same matrix with 32-bit or reordered column indices.
    std::vector<uint32_t> cols32;
    std::vector<float> values(csr.data().values.begin(),
                              csr.data().values.end());
    for (size_t k = 0; k < csr.nnz(); ++k) {
      cols32.push_back(static_cast<uint32_t>(csr.col(k)));
    }
    CsrView view = csr.view();
    if (unsorted_) {
      for (size_t r = 0; r < rows_; ++r) {
        std::reverse(cols32.begin() + view.row_ptr[r],
                     cols32.begin() + view.row_ptr[r + 1]);
        std::reverse(values.begin() + view.row_ptr[r],
                     values.begin() + view.row_ptr[r + 1]);
      }
    }
    if (unsorted_ || wide_) {
      view.col_idx = cols32.data();
      view.index_width = IndexWidth::k32;
      view.values = values.data();
    }
    LookupView lookup{rows_, cols_};
    std::vector<uint32_t> slot_ptr(lookup.groups() * lookup.panels() + 1);
    const size_t slots = lookup_slots(view, slot_ptr.data());
    std::vector<uint8_t> columns(slots * kLookupGroupRows);
    std::vector<float> packed(slots * kLookupGroupRows);
    pack_lookup(view, slot_ptr.data(), columns.data(), packed.data());
    lookup.slot_ptr = slot_ptr.data();
    lookup.columns = columns.data();
    lookup.values = packed.data();

    Data data = MakeData(&rng);
    std::vector<float> want = data.y;
    spmm_lookup_reference(view, data.x.data(), ldx(), n_, want.data(), ldy(),
                          data.epilogue, 0, rows_);
    const size_t mid = lookup.groups() / 3;
    spmm_lookup(lookup, data.x.data(), ldx(), n_, data.y.data(), ldy(),
                data.epilogue, 0, mid);
    spmm_lookup(lookup, data.x.data(), ldx(), n_, data.y.data(), ldy(),
                data.epilogue, mid, lookup.groups());
    Compare(data.y, want, data, [&](size_t j, size_t r) {
      double s = 0;
      for (size_t k = 0; k < cols_; ++k)
        s += std::abs(w[r * cols_ + k] * data.x[j * ldx() + k]);
      return s;
    });
  }

 private:
  struct Data {
    std::vector<float> x, b, y;
    Epilogue epilogue;
  };

  uint32_t Seed() const {
    return static_cast<uint32_t>(rows_ * 131 + cols_ * 7 + n_ * 3 +
                                 static_cast<size_t>(sparsity_ * 100));
  }
  // Row strides past the used columns, so that reading or writing past them
  // shows.
  size_t ldx() const { return cols_ + 3; }
  size_t ldy() const { return rows_ + 5; }

  Data MakeData(std::mt19937* rng) const {
    Data d;
    d.x = uniform_values(feature_major_ ? cols_ * n_ : n_ * ldx(), rng);
    d.b = uniform_values(rows_, rng);
    d.y.assign(n_ * ldy(), kUntouched);
    if (accumulate_) {
      for (size_t j = 0; j < n_; ++j) {
        const auto start = uniform_values(rows_, rng);
        std::copy(start.begin(), start.end(), d.y.begin() + j * ldy());
      }
    }
    d.epilogue = {bias_ ? d.b.data() : nullptr, activation_, accumulate_};
    return d;
  }

  template <class Scale>
  void Compare(const std::vector<float>& got, const std::vector<float>& want,
               const Data& data, const Scale& scale) const {
    for (size_t j = 0; j < n_; ++j) {
      for (size_t r = 0; r < ldy(); ++r) {
        const size_t at = j * ldy() + r;
        const std::string where =
            "row " + std::to_string(j) + " output " + std::to_string(r) +
            " of " + std::to_string(n_) + "x" + std::to_string(cols_) +
            " -> " + std::to_string(rows_) +
            " sparsity=" + std::to_string(sparsity_) +
            " activation=" + std::to_string(static_cast<int>(activation_));
        if (r >= rows_) {
          ASSERT_EQ(got[at], kUntouched) << "wrote past the outputs: " << where;
          continue;
        }
        double terms = scale(j, r);
        if (bias_) terms += std::abs(data.b[r]);
        ExpectElementClose(got[at], want[at], terms, where);
      }
    }
  }

  size_t rows_ = 1, cols_ = 1, n_ = 1;
  double sparsity_ = 0.0;
  Activation activation_ = Activation::kNone;
  bool bias_ = false, accumulate_ = false, feature_major_ = false;
  bool unsorted_ = false, wide_ = false;
};

HWY_BEFORE_TEST(GemmPacked);

TEST_P(GemmPacked, MatchesReferenceAroundPanelEdges) {
  for (size_t rows : {1, 7, 15, 16, 17, 31, 32, 33, 64, 100}) {
    for (size_t cols : {1, 2, 3, 17, 64}) {
      for (size_t n : {1, 2, 3, 4, 5, 8, 9}) {
        SmallBatchTester().rows(rows).cols(cols).n(n).TestDense();
      }
    }
  }
}

TEST_P(GemmPacked, ReadsFeatureMajorActivations) {
  for (size_t n : {1, 2, 3, 4, 6, 13}) {
    SmallBatchTester().rows(70).cols(45).n(n).feature_major(true).TestDense();
  }
}

TEST_P(GemmPacked, FusesBiasActivationAndAccumulation) {
  for (Activation a : kActivations) {
    for (size_t n : {1, 3, 4, 7}) {
      SmallBatchTester()
          .rows(50)
          .cols(37)
          .n(n)
          .bias(true)
          .activation(a)
          .TestDense();
      SmallBatchTester()
          .rows(50)
          .cols(37)
          .n(n)
          .bias(true)
          .activation(a)
          .accumulate(true)
          .TestDense();
    }
  }
}

HWY_BEFORE_TEST(SpmmLookup);

TEST_P(SpmmLookup, MatchesReferenceOverShapesAndSparsities) {
  for (double s : {0.0, 0.5, 0.9, 0.99, 1.0}) {
    for (size_t rows : {1, 15, 16, 17, 33, 64}) {
      for (size_t cols : {1, 31, 32, 33, 95, 200}) {
        for (size_t n : {1, 2, 3, 4, 5, 8}) {
          SmallBatchTester()
              .rows(rows)
              .cols(cols)
              .n(n)
              .sparsity(s)
              .TestLookup();
        }
      }
    }
  }
}

TEST_P(SpmmLookup, UnsortedAndWideColumnIndices) {
  for (size_t n : {1, 2, 4, 7}) {
    SmallBatchTester()
        .rows(40)
        .cols(300)
        .n(n)
        .sparsity(0.8)
        .unsorted(true)
        .TestLookup();
    SmallBatchTester()
        .rows(40)
        .cols(300)
        .n(n)
        .sparsity(0.8)
        .wide_indices(true)
        .TestLookup();
  }
}

TEST_P(SpmmLookup, FusesBiasActivationAndAccumulation) {
  for (Activation a : kActivations) {
    for (size_t n : {1, 2, 5}) {
      SmallBatchTester()
          .rows(45)
          .cols(91)
          .n(n)
          .sparsity(0.8)
          .bias(true)
          .activation(a)
          .TestLookup();
      SmallBatchTester()
          .rows(45)
          .cols(91)
          .n(n)
          .sparsity(0.8)
          .bias(true)
          .activation(a)
          .accumulate(true)
          .TestLookup();
    }
  }
}

// The group with the most non-zeros in a panel sets the slots: a row with
// every column of a panel next to empty rows.
TEST_P(SpmmLookup, OneFullRowAmongEmptyOnes) {
  const size_t rows = 16, cols = 64;
  std::vector<float> w(rows * cols, 0.0f);
  for (size_t c = 0; c < cols; ++c) w[5 * cols + c] = 1.0f + c;
  const CsrMatrix csr = CsrMatrix::from_dense(w.data(), rows, cols);
  LookupView view{rows, cols};
  std::vector<uint32_t> slot_ptr(view.groups() * view.panels() + 1);
  ASSERT_EQ(lookup_slots(csr.view(), slot_ptr.data()), 64u);
  std::vector<uint8_t> columns(64 * kLookupGroupRows);
  std::vector<float> values(64 * kLookupGroupRows);
  pack_lookup(csr.view(), slot_ptr.data(), columns.data(), values.data());
  view.slot_ptr = slot_ptr.data();
  view.columns = columns.data();
  view.values = values.data();
  std::vector<float> x(cols, 1.0f), y(rows, -1.0f);
  spmm_lookup(view, x.data(), cols, 1, y.data(), rows, {}, 0, 1);
  for (size_t r = 0; r < rows; ++r) {
    EXPECT_EQ(y[r], r == 5 ? 64.0f * 65.0f / 2.0f : 0.0f) << r;
  }
}

}  // namespace
}  // namespace spruce::kernels
