// CSR and BSR containers: round trips, index widths, validation.
#include "spruce/sparse_matrix.h"

#include <gtest/gtest.h>

#include <random>
#include <utility>
#include <vector>

#include "spruce/error.h"
#include "spruce/kernels/block_shapes.h"

namespace spruce {
namespace {

std::vector<float> random_matrix(size_t rows, size_t cols, double sparsity,
                                 uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<float> m(rows * cols);
  for (float& v : m) v = u(rng) < sparsity ? 0.0f : static_cast<float>(u(rng) + 0.1);
  return m;
}

TEST(CsrMatrix, RoundTripsThroughDense) {
  for (double s : {0.0, 0.5, 0.9, 0.99, 1.0}) {
    for (auto [rows, cols] : {std::pair<size_t, size_t>{1, 1}, {7, 13}, {64, 31}}) {
      const auto dense = random_matrix(rows, cols, s, 3);
      const CsrMatrix m = CsrMatrix::from_dense(dense.data(), rows, cols);
      EXPECT_EQ(m.to_dense(), dense);
      size_t nonzero = 0;
      for (float v : dense) nonzero += v != 0.0f;
      EXPECT_EQ(m.nnz(), nonzero);
      EXPECT_NO_THROW(validate_csr(m.view(), "m"));
    }
  }
}

TEST(CsrMatrix, UsesSixteenBitIndicesWhenColumnsAllow) {
  std::vector<float> narrow(2 * 65536, 1.0f), wide(2 * 65537, 1.0f);
  EXPECT_EQ(CsrMatrix::from_dense(narrow.data(), 2, 65536).index_width(), IndexWidth::k16);
  const CsrMatrix w = CsrMatrix::from_dense(wide.data(), 2, 65537);
  EXPECT_EQ(w.index_width(), IndexWidth::k32);
  EXPECT_EQ(w.to_dense(), wide);
}

TEST(CsrMatrix, StoresSixBytesPerNonZeroWithNarrowIndices) {
  const auto dense = random_matrix(256, 256, 0.9, 5);
  const CsrMatrix m = CsrMatrix::from_dense(dense.data(), 256, 256);
  EXPECT_EQ(m.stored_bytes(), m.nnz() * 6 + 257 * 4);
}

TEST(CsrMatrix, FromPartsRejectsBadStructure) {
  // rows=2, cols=3
  EXPECT_THROW(CsrMatrix::from_parts(2, 3, {0, 1}, {0}, {1.f}), Error);  // too few row ptrs
  EXPECT_THROW(CsrMatrix::from_parts(2, 3, {0, 2, 1}, {0}, {1.f}), Error);  // decreasing
  EXPECT_THROW(CsrMatrix::from_parts(2, 3, {1, 1, 1}, {0}, {1.f}), Error);  // not from 0
  EXPECT_THROW(CsrMatrix::from_parts(2, 3, {0, 1, 1}, {3}, {1.f}), Error);  // col >= cols
  EXPECT_THROW(CsrMatrix::from_parts(2, 3, {0, 2, 2}, {1, 1}, {1.f, 2.f}), Error);  // dup
  EXPECT_THROW(CsrMatrix::from_parts(2, 3, {0, 1, 2}, {0, 1}, {1.f}), Error);  // values
  try {
    CsrMatrix::from_parts(2, 3, {0, 1, 1}, {912}, {1.f}, "fc1.weight");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "fc1.weight: row 0 column index 912 >= 3 columns");
  }
  const CsrMatrix ok = CsrMatrix::from_parts(2, 3, {0, 1, 2}, {2, 0}, {1.f, 2.f});
  EXPECT_EQ(ok.to_dense(), (std::vector<float>{0, 0, 1, 2, 0, 0}));
}

TEST(BsrMatrix, RoundTripsForPruningBlockShapes) {
  std::vector<std::pair<size_t, size_t>> shapes = {{3, 5}};  // and odd ones
  for (const kernels::BlockShape& b : kernels::kBlockShapes) {
    shapes.emplace_back(b.rows, b.cols);
  }
  for (auto [br, bc] : shapes) {
    for (auto [rows, cols] : {std::pair<size_t, size_t>{33, 17}, {64, 64}, {1, 1}}) {
      const auto dense = random_matrix(rows, cols, 0.95, 11);
      const BsrMatrix m = BsrMatrix::from_dense(dense.data(), rows, cols, br, bc);
      EXPECT_EQ(m.to_dense(), dense) << br << "x" << bc;
      EXPECT_EQ(m.data().values.size(), m.nnz_blocks() * br * bc);
      EXPECT_NO_THROW(validate_bsr(m.view(), "m"));
      EXPECT_EQ(to_dense(m.view()), dense);
    }
  }
}

TEST(BsrMatrix, StoresOnlyBlocksWithNonZeros) {
  std::vector<float> dense(8 * 8, 0.0f);
  dense[0] = 1.0f;       // block (0, 0)
  dense[5 * 8 + 6] = 2;  // block (1, 1) for 4x4
  const BsrMatrix m = BsrMatrix::from_dense(dense.data(), 8, 8, 4, 4);
  EXPECT_EQ(m.nnz_blocks(), 2u);
  EXPECT_EQ(m.block_col(0), 0u);
  EXPECT_EQ(m.block_col(1), 1u);
  EXPECT_DOUBLE_EQ(m.density(), 32.0 / 64.0);
  EXPECT_THROW(BsrMatrix::from_dense(dense.data(), 8, 8, 0, 4), Error);
}

TEST(BsrMatrix, ValidationRejectsOutOfRangeBlockColumn) {
  const uint32_t row_ptr[] = {0, 1};
  const uint16_t cols[] = {2};  // 8 columns / 4 = 2 block columns
  kernels::BsrView v;
  v.rows = 4;
  v.cols = 8;
  v.block_rows = 4;
  v.block_cols = 4;
  v.row_ptr = row_ptr;
  v.col_idx = cols;
  v.index_width = IndexWidth::k16;
  EXPECT_THROW(validate_bsr(v, "w"), Error);
}

}  // namespace
}  // namespace spruce
