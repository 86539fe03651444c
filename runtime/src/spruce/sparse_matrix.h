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

// What CSR and BSR both store: row pointers, one index per stored entry (a
// column, or a block column) at the narrowest width, and the values.
struct CompressedRows {
  IndexWidth index_width = IndexWidth::k16;
  std::vector<uint32_t> row_ptr{0};
  std::vector<uint16_t> col16;  // when index_width == k16
  std::vector<uint32_t> col32;  // when index_width == k32
  std::vector<float> values;

  // Stores `indices` at index_width.
  void set_indices(const std::vector<uint32_t>& indices);
  size_t index(size_t k) const;
  const void* indices() const;
  size_t index_bytes() const;
  size_t stored_bytes() const;  // values + indices + row pointers
};

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
  size_t nnz() const { return data_.values.size(); }
  IndexWidth index_width() const { return data_.index_width; }
  double sparsity() const;  // fraction of zeros, 0 for an empty matrix

  const CompressedRows& data() const { return data_; }
  // Column index k as a size_t, whatever the stored width.
  size_t col(size_t k) const { return data_.index(k); }
  size_t stored_bytes() const { return data_.stored_bytes(); }

  kernels::CsrView view() const;
  std::vector<float> to_dense() const;

 private:
  size_t rows_ = 0;
  size_t cols_ = 0;
  CompressedRows data_;
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
  size_t row_blocks() const { return data_.row_ptr.size() - 1; }
  size_t col_blocks() const;
  size_t nnz_blocks() const { return data_.row_ptr.back(); }
  IndexWidth index_width() const { return data_.index_width; }
  // Fraction of stored blocks' entries among all entries: 1 - this is the
  // sparsity the block format exploits.
  double density() const;

  const CompressedRows& data() const { return data_; }
  size_t block_col(size_t k) const { return data_.index(k); }
  size_t stored_bytes() const { return data_.stored_bytes(); }

  kernels::BsrView view() const;
  std::vector<float> to_dense() const;

 private:
  size_t rows_ = 0;
  size_t cols_ = 0;
  size_t block_rows_ = 1;
  size_t block_cols_ = 1;
  CompressedRows data_;
};

// Checks a BSR view the same way validate_csr() does, plus the block shape.
void validate_bsr(const kernels::BsrView& view, const std::string& what);

}  // namespace spruce

#endif  // SPRUCE_SPARSE_MATRIX_H_
