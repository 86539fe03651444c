// CSR and BSR containers: construction from dense, validation, expansion.
#include "spruce/sparse_matrix.h"

#include <algorithm>
#include <limits>

#include "spruce/error.h"

namespace spruce {
namespace {

constexpr size_t kMax16BitIndices = size_t{1} << 16;

void check_fits_u32(size_t count, const std::string& what) {
  if (count > std::numeric_limits<uint32_t>::max()) {
    throw Error(what + ": " + std::to_string(count) +
                " non-zeros do not fit 32-bit row pointers");
  }
}

size_t index_at(const void* col_idx, IndexWidth width, size_t k) {
  return width == IndexWidth::k16 ? static_cast<const uint16_t*>(col_idx)[k]
                                  : static_cast<const uint32_t*>(col_idx)[k];
}

// Shared by CSR and BSR: row pointers from 0, non-decreasing; indices below
// `index_limit` and strictly increasing within a row.
void validate_compressed_rows(size_t row_count, size_t index_limit,
                              const uint32_t* row_ptr, const void* col_idx,
                              IndexWidth width, const std::string& what,
                              const char* index_name) {
  if (width == IndexWidth::k16 && index_limit > kMax16BitIndices) {
    throw Error(what + ": 16-bit " + index_name + " indices cannot address " +
                std::to_string(index_limit) + " " + index_name + "s");
  }
  if (width != IndexWidth::k16 && width != IndexWidth::k32) {
    throw Error(what + ": unsupported index width " +
                std::to_string(static_cast<int>(width)));
  }
  if (row_ptr[0] != 0) {
    throw Error(what + ": row pointer 0 is " + std::to_string(row_ptr[0]) +
                ", expected 0");
  }
  // All row pointers first: once they are non-decreasing, every row's range
  // lies within the row_ptr[row_count] indices the caller sized the array for.
  for (size_t r = 0; r < row_count; ++r) {
    if (row_ptr[r + 1] < row_ptr[r]) {
      throw Error(what + ": row pointers decrease at row " +
                  std::to_string(r) + " (" + std::to_string(row_ptr[r]) +
                  " then " + std::to_string(row_ptr[r + 1]) + ")");
    }
  }
  for (size_t r = 0; r < row_count; ++r) {
    size_t previous = 0;
    for (size_t k = row_ptr[r]; k < row_ptr[r + 1]; ++k) {
      const size_t c = index_at(col_idx, width, k);
      if (c >= index_limit) {
        throw Error(what + ": row " + std::to_string(r) + " " + index_name +
                    " index " + std::to_string(c) + " >= " +
                    std::to_string(index_limit) + " " + index_name + "s");
      }
      if (k > row_ptr[r] && c <= previous) {
        throw Error(what + ": row " + std::to_string(r) + " " + index_name +
                    " indices not strictly increasing (" +
                    std::to_string(previous) + " then " + std::to_string(c) +
                    ")");
      }
      previous = c;
    }
  }
}

}  // namespace

void CompressedRows::set_indices(const std::vector<uint32_t>& indices) {
  if (index_width == IndexWidth::k16) {
    col16.assign(indices.begin(), indices.end());
    col32.clear();
  } else {
    col32 = indices;
    col16.clear();
  }
}

size_t CompressedRows::index(size_t k) const {
  return index_width == IndexWidth::k16 ? col16[k] : col32[k];
}

const void* CompressedRows::indices() const {
  return index_width == IndexWidth::k16 ? static_cast<const void*>(col16.data())
                                        : static_cast<const void*>(col32.data());
}

size_t CompressedRows::index_bytes() const {
  return col16.size() * sizeof(uint16_t) + col32.size() * sizeof(uint32_t);
}

size_t CompressedRows::stored_bytes() const {
  return values.size() * sizeof(float) + index_bytes() +
         row_ptr.size() * sizeof(uint32_t);
}

IndexWidth index_width_for(size_t index_count) {
  return index_count <= kMax16BitIndices ? IndexWidth::k16 : IndexWidth::k32;
}

void validate_csr(const kernels::CsrView& view, const std::string& what) {
  if (view.row_ptr == nullptr) throw Error(what + ": missing row pointers");
  validate_compressed_rows(view.rows, view.cols, view.row_ptr, view.col_idx,
                           view.index_width, what, "column");
}

void validate_bsr(const kernels::BsrView& view, const std::string& what) {
  if (view.block_rows == 0 || view.block_cols == 0) {
    throw Error(what + ": block shape " + std::to_string(view.block_rows) +
                "x" + std::to_string(view.block_cols) + " has a zero side");
  }
  if (view.row_ptr == nullptr) throw Error(what + ": missing row pointers");
  validate_compressed_rows(view.row_blocks(), view.col_blocks(), view.row_ptr,
                           view.col_idx, view.index_width, what,
                           "block column");
}

std::vector<float> to_dense(const kernels::CsrView& view) {
  std::vector<float> dense(view.rows * view.cols, 0.0f);
  for (size_t r = 0; r < view.rows; ++r) {
    for (size_t k = view.row_ptr[r]; k < view.row_ptr[r + 1]; ++k) {
      dense[r * view.cols + index_at(view.col_idx, view.index_width, k)] =
          view.values[k];
    }
  }
  return dense;
}

std::vector<float> to_dense(const kernels::BsrView& view) {
  std::vector<float> dense(view.rows * view.cols, 0.0f);
  const size_t block = view.block_rows * view.block_cols;
  for (size_t br = 0; br < view.row_blocks(); ++br) {
    for (size_t k = view.row_ptr[br]; k < view.row_ptr[br + 1]; ++k) {
      const size_t c0 =
          index_at(view.col_idx, view.index_width, k) * view.block_cols;
      for (size_t i = 0; i < view.block_rows; ++i) {
        const size_t r = br * view.block_rows + i;
        for (size_t j = 0; j < view.block_cols; ++j) {
          const size_t c = c0 + j;
          if (r < view.rows && c < view.cols) {
            dense[r * view.cols + c] =
                view.values[k * block + i * view.block_cols + j];
          }
        }
      }
    }
  }
  return dense;
}

// ---------------------------------------------------------------- CSR

CsrMatrix CsrMatrix::from_dense(const float* dense, size_t rows, size_t cols) {
  CsrMatrix m;
  m.rows_ = rows;
  m.cols_ = cols;
  CompressedRows& d = m.data_;
  d.index_width = index_width_for(cols);
  d.row_ptr.reserve(rows + 1);
  std::vector<uint32_t> indices;
  for (size_t r = 0; r < rows; ++r) {
    const float* row = dense + r * cols;
    for (size_t c = 0; c < cols; ++c) {
      if (row[c] != 0.0f) {
        indices.push_back(static_cast<uint32_t>(c));
        d.values.push_back(row[c]);
      }
    }
    check_fits_u32(d.values.size(), "CSR matrix");
    d.row_ptr.push_back(static_cast<uint32_t>(d.values.size()));
  }
  d.set_indices(indices);
  return m;
}

CsrMatrix CsrMatrix::from_parts(size_t rows, size_t cols,
                                std::vector<uint32_t> row_ptr,
                                const std::vector<uint32_t>& col_idx,
                                std::vector<float> values,
                                const std::string& what) {
  if (row_ptr.size() != rows + 1) {
    throw Error(what + ": " + std::to_string(row_ptr.size()) +
                " row pointers for " + std::to_string(rows) + " rows");
  }
  if (row_ptr.back() != col_idx.size() || col_idx.size() != values.size()) {
    throw Error(what + ": row pointers end at " +
                std::to_string(row_ptr.back()) + " but there are " +
                std::to_string(col_idx.size()) + " column indices and " +
                std::to_string(values.size()) + " values");
  }
  kernels::CsrView view;
  view.rows = rows;
  view.cols = cols;
  view.row_ptr = row_ptr.data();
  view.col_idx = col_idx.data();
  view.index_width = IndexWidth::k32;
  validate_csr(view, what);

  CsrMatrix m;
  m.rows_ = rows;
  m.cols_ = cols;
  m.data_.index_width = index_width_for(cols);
  m.data_.row_ptr = std::move(row_ptr);
  m.data_.set_indices(col_idx);
  m.data_.values = std::move(values);
  return m;
}

double CsrMatrix::sparsity() const {
  const double total = static_cast<double>(rows_) * static_cast<double>(cols_);
  return total == 0 ? 0.0 : 1.0 - static_cast<double>(nnz()) / total;
}

kernels::CsrView CsrMatrix::view() const {
  kernels::CsrView v;
  v.rows = rows_;
  v.cols = cols_;
  v.row_ptr = data_.row_ptr.data();
  v.col_idx = data_.indices();
  v.index_width = data_.index_width;
  v.values = data_.values.data();
  return v;
}

std::vector<float> CsrMatrix::to_dense() const {
  return spruce::to_dense(view());
}

// ---------------------------------------------------------------- BSR

BsrMatrix BsrMatrix::from_dense(const float* dense, size_t rows, size_t cols,
                                size_t block_rows, size_t block_cols) {
  if (block_rows == 0 || block_cols == 0) {
    throw Error("BSR matrix: block shape " + std::to_string(block_rows) + "x" +
                std::to_string(block_cols) + " has a zero side");
  }
  BsrMatrix m;
  m.rows_ = rows;
  m.cols_ = cols;
  m.block_rows_ = block_rows;
  m.block_cols_ = block_cols;
  const size_t row_blocks = (rows + block_rows - 1) / block_rows;
  const size_t col_blocks = (cols + block_cols - 1) / block_cols;
  CompressedRows& d = m.data_;
  d.index_width = index_width_for(col_blocks);
  d.row_ptr.reserve(row_blocks + 1);
  std::vector<uint32_t> indices;
  for (size_t br = 0; br < row_blocks; ++br) {
    const size_t r0 = br * block_rows;
    const size_t r1 = std::min(rows, r0 + block_rows);
    for (size_t bc = 0; bc < col_blocks; ++bc) {
      const size_t c0 = bc * block_cols;
      const size_t c1 = std::min(cols, c0 + block_cols);
      bool any = false;
      for (size_t r = r0; r < r1 && !any; ++r) {
        for (size_t c = c0; c < c1; ++c) {
          if (dense[r * cols + c] != 0.0f) {
            any = true;
            break;
          }
        }
      }
      if (!any) continue;
      indices.push_back(static_cast<uint32_t>(bc));
      for (size_t i = 0; i < block_rows; ++i) {
        for (size_t j = 0; j < block_cols; ++j) {
          const size_t r = r0 + i;
          const size_t c = c0 + j;
          d.values.push_back(r < rows && c < cols ? dense[r * cols + c]
                                                  : 0.0f);
        }
      }
    }
    check_fits_u32(indices.size(), "BSR matrix");
    d.row_ptr.push_back(static_cast<uint32_t>(indices.size()));
  }
  d.set_indices(indices);
  return m;
}

size_t BsrMatrix::col_blocks() const {
  return (cols_ + block_cols_ - 1) / block_cols_;
}

double BsrMatrix::density() const {
  const double total = static_cast<double>(rows_) * static_cast<double>(cols_);
  return total == 0 ? 0.0 : static_cast<double>(data_.values.size()) / total;
}

kernels::BsrView BsrMatrix::view() const {
  kernels::BsrView v;
  v.rows = rows_;
  v.cols = cols_;
  v.block_rows = block_rows_;
  v.block_cols = block_cols_;
  v.row_ptr = data_.row_ptr.data();
  v.col_idx = data_.indices();
  v.index_width = data_.index_width;
  v.values = data_.values.data();
  return v;
}

std::vector<float> BsrMatrix::to_dense() const {
  return spruce::to_dense(view());
}

}  // namespace spruce
