// Sparse weight containers: CSR and block-sparse (BSR), built from a dense
// matrix whose zeros are the pruned weights. Both store only the non-zeros and
// the narrowest column index that fits (16 bits when the matrix has at most
// 65536 columns or block columns, 32 bits otherwise).
//
// These are the owning forms used when converting and in tests; a loaded model
// uses kernels::CsrView over its memory-mapped file, checked by the same
// validate_csr() as these.
#ifndef SPRUCE_SPARSE_MATRIX_H_
#define SPRUCE_SPARSE_MATRIX_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "spruce/kernels/spmm.h"

namespace spruce {

using kernels::IndexWidth;

// The index width a matrix with `index_count` distinct column (or block
// column) indices needs.
IndexWidth index_width_for(size_t index_count);

// The dense [rows × cols] row-major matrix a view describes.
std::vector<float> to_dense(const kernels::CsrView& view);
std::vector<float> to_dense(const kernels::BsrView& view);

// Checks everything a kernel trusts about a CSR view: row_ptr[0] == 0, row
// pointers non-decreasing, column indices < cols and strictly increasing in
// each row, the index width able to hold cols. Throws spruce::Error naming
// `what` and the first problem found.
void validate_csr(const kernels::CsrView& view, const std::string& what);

class CsrMatrix {
 public:
  CsrMatrix() = default;
  // Keeps every entry of `dense` ([rows × cols], row-major) that is not 0.
  static CsrMatrix from_dense(const float* dense, size_t rows, size_t cols);
  // Adopts existing arrays (col_idx as 32-bit; narrowed when cols allows).
  // Validates; throws spruce::Error naming `what` on any inconsistency.
  static CsrMatrix from_parts(size_t rows, size_t cols,
                              std::vector<uint32_t> row_ptr,
                              const std::vector<uint32_t>& col_idx,
                              std::vector<float> values,
                              const std::string& what = "CSR matrix");

  size_t rows() const { return rows_; }
  size_t cols() const { return cols_; }
  size_t nnz() const { return values_.size(); }
  IndexWidth index_width() const { return index_width_; }
  double sparsity() const;  // fraction of zeros, 0 for an empty matrix

  const std::vector<uint32_t>& row_ptr() const { return row_ptr_; }
  const std::vector<uint16_t>& col_idx16() const { return col16_; }
  const std::vector<uint32_t>& col_idx32() const { return col32_; }
  const std::vector<float>& values() const { return values_; }
  // Column index k as a size_t, whatever the stored width.
  size_t col(size_t k) const;
  size_t index_bytes() const;  // bytes of stored column indices
  size_t stored_bytes() const;  // values + indices + row pointers

  kernels::CsrView view() const;
  std::vector<float> to_dense() const;

 private:
  size_t rows_ = 0;
  size_t cols_ = 0;
  IndexWidth index_width_ = IndexWidth::k16;
  std::vector<uint32_t> row_ptr_{0};
  std::vector<uint16_t> col16_;
  std::vector<uint32_t> col32_;
  std::vector<float> values_;
};

// Block-sparse rows: the matrix is tiled into block_rows × block_cols blocks
// (edge blocks padded with zeros); a block is stored, row-major and whole,
// when any of its entries is not 0.
class BsrMatrix {
 public:
  BsrMatrix() = default;
  static BsrMatrix from_dense(const float* dense, size_t rows, size_t cols,
                              size_t block_rows, size_t block_cols);

  size_t rows() const { return rows_; }
  size_t cols() const { return cols_; }
  size_t block_rows() const { return block_rows_; }
  size_t block_cols() const { return block_cols_; }
  size_t row_blocks() const { return row_ptr_.size() - 1; }
  size_t col_blocks() const;
  size_t nnz_blocks() const;
  IndexWidth index_width() const { return index_width_; }
  // Fraction of stored blocks' entries among all entries: 1 - this is the
  // sparsity the block format exploits.
  double density() const;

  const std::vector<uint32_t>& row_ptr() const { return row_ptr_; }
  const std::vector<uint16_t>& col_idx16() const { return col16_; }
  const std::vector<uint32_t>& col_idx32() const { return col32_; }
  const std::vector<float>& values() const { return values_; }
  size_t block_col(size_t k) const;
  size_t stored_bytes() const;

  kernels::BsrView view() const;
  std::vector<float> to_dense() const;

 private:
  size_t rows_ = 0;
  size_t cols_ = 0;
  size_t block_rows_ = 1;
  size_t block_cols_ = 1;
  IndexWidth index_width_ = IndexWidth::k16;
  std::vector<uint32_t> row_ptr_{0};
  std::vector<uint16_t> col16_;
  std::vector<uint32_t> col32_;
  std::vector<float> values_;
};

// Checks a BSR view the same way validate_csr() does, plus the block shape.
void validate_bsr(const kernels::BsrView& view, const std::string& what);

}  // namespace spruce

#endif  // SPRUCE_SPARSE_MATRIX_H_
