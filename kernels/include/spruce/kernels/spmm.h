// Sparse weight times dense activations: Y = act(W · X + bias).
//
// Layout: W is [rows × cols] in CSR. X is feature-major, [cols × n] with row
// stride n (n = tokens, batch or pixels, contiguous), and Y is [rows × n].
// Each non-zero of W is one broadcast and a few vector FMAs over n.
//
// The kernels are pure compute: no allocation, no threads. Callers split rows
// across threads with `row_begin`/`row_end`.
#ifndef SPRUCE_KERNELS_SPMM_H_
#define SPRUCE_KERNELS_SPMM_H_

#include <cstddef>
#include <cstdint>

namespace spruce::kernels {

// Activation applied to each output as it is written. kGelu is the erf form
// (PyTorch's nn.GELU default).
enum class Activation : uint8_t {
  kNone = 0,
  kRelu = 1,
  kGelu = 2,
  kSigmoid = 3,
  kTanh = 4,
  kRelu6 = 5,        // min(max(x, 0), 6): ONNX Clip(0, 6), MobileNet's ReLU6
  kSilu = 6,         // x · sigmoid(x): EfficientNet's SiLU (swish)
  kHardSwish = 7,    // x · min(max(x + 3, 0), 6) / 6: MobileNet v3
  kHardSigmoid = 8,  // min(max(x / 6 + 1/2, 0), 1): PyTorch's Hardsigmoid
};

enum class IndexWidth : uint8_t { k16 = 16, k32 = 32 };

// Borrowed CSR matrix. `row_ptr` has rows + 1 entries, row_ptr[0] == 0;
// `col_idx` holds row_ptr[rows] column indices of `index_width` bits; all of it
// has been validated by whoever built the view.
struct CsrView {
  size_t rows = 0;
  size_t cols = 0;
  const uint32_t* row_ptr = nullptr;
  const void* col_idx = nullptr;
  IndexWidth index_width = IndexWidth::k32;
  const float* values = nullptr;

  size_t nnz() const { return rows == 0 ? 0 : row_ptr[rows]; }
  // Column index k, whatever its width.
  size_t col(size_t k) const {
    return index_width == IndexWidth::k16
               ? static_cast<const uint16_t*>(col_idx)[k]
               : static_cast<const uint32_t*>(col_idx)[k];
  }
};

// Borrowed block-sparse (BSR) matrix: block_rows × block_cols blocks, stored
// whole and row-major in `values`; row_ptr has one entry per block row + 1,
// col_idx one block-column index per stored block. Edge blocks are padded.
struct BsrView {
  size_t rows = 0;
  size_t cols = 0;
  size_t block_rows = 1;
  size_t block_cols = 1;
  const uint32_t* row_ptr = nullptr;
  const void* col_idx = nullptr;
  IndexWidth index_width = IndexWidth::k32;
  const float* values = nullptr;

  size_t row_blocks() const { return (rows + block_rows - 1) / block_rows; }
  size_t col_blocks() const { return (cols + block_cols - 1) / block_cols; }
  size_t nnz_blocks() const { return row_ptr[row_blocks()]; }
  // Block column index k, whatever its width.
  size_t block_col(size_t k) const {
    return index_width == IndexWidth::k16
               ? static_cast<const uint16_t*>(col_idx)[k]
               : static_cast<const uint32_t*>(col_idx)[k];
  }
};

// What happens to each output element: y = act(sum + bias[row]), or with
// `accumulate`, y = act(y + sum + bias[row]): a product split over column
// panels of W adds each panel's part to what the previous panels wrote.
struct Epilogue {
  const float* bias = nullptr;  // [rows] or null
  Activation activation = Activation::kNone;
  bool accumulate = false;
};

// The general form of spmm_csr: X's row c starts at x + c * ldx and Y's row r
// at y + r * ldy; n columns of each are computed. ldx = 1 makes each column
// index an element offset into x, which turns a stride-1 convolution over a
// padded image into one product with no im2col (direct sparse convolution:
// the index of weight (c, i, j) is the offset of input pixel (c, i, j)).
// Reads x[col * ldx + j] for j < n only.
void spmm_csr_strided(const CsrView& w, const float* x, size_t ldx, size_t n,
                      float* y, size_t ldy, const Epilogue& epilogue,
                      size_t row_begin, size_t row_end);

// A CSR weight over element offsets into X (as spmm_csr_strided with
// ldx = 1) whose offsets take a few residues mod 16, "shifts": a stride-1
// convolution over planes whose rows are a multiple of 16 floats apart
// has one per column tap (0, 1, 2 for a 3-wide window). Row r's non-zeros
// are stored as `classes` sub-rows, sub-row r·classes + k holding those of
// shift shifts[k], each offset rounded down to a multiple of 16: every
// vector load is then aligned (a load that crosses a cache line costs two,
// 1.6x the kernel's time with AVX-512), and each shifted class's sum is
// moved into place once per tile of outputs, not per non-zero.
struct ShiftedCsrView {
  CsrView csr;  // rows · classes sub-rows, 32-bit offsets
  size_t classes = 1;
  const uint32_t* shifts = nullptr;  // [classes], each below 16
};

// Y[r, j] = act(bias[r] + sum over r's non-zeros e of
// value(e) · x[offset(e) + shift(e) + j]) for logical rows r in [row_begin,
// row_end) and j < n, Y's rows ldy apart. x must be 64-byte aligned, n a
// multiple of 16, and x readable 16 floats past every offset + n.
void spmm_csr_shifted(const ShiftedCsrView& w, const float* x, size_t n,
                      float* y, size_t ldy, const Epilogue& epilogue,
                      size_t row_begin, size_t row_end);

// Y[row_begin:row_end, 0:n] = act(W[row_begin:row_end, :] · X + bias).
// x: [w.cols × n], row stride n. y: [w.rows × n], row stride n.
// Dispatches once to the best SIMD target of the running CPU.
void spmm_csr(const CsrView& w, const float* x, size_t n, float* y,
              const Epilogue& epilogue, size_t row_begin, size_t row_end);

// Y[rows of block rows [block_row_begin, block_row_end), 0:n] =
// act(W · X + bias), same layouts as spmm_csr. The block shapes pruning tools
// make (1x4, 1x8, 2x2, 4x1, 4x4, 8x1, 16x1) have register-blocked kernels;
// any other shape runs a generic, slower path.
void spmm_bsr(const BsrView& w, const float* x, size_t n, float* y,
              const Epilogue& epilogue, size_t block_row_begin,
              size_t block_row_end);
// spmm_bsr with X's rows ldx apart and Y's ldy apart, n columns of each.
void spmm_bsr_strided(const BsrView& w, const float* x, size_t ldx, size_t n,
                      float* y, size_t ldy, const Epilogue& epilogue,
                      size_t block_row_begin, size_t block_row_end);

// Columns per pass that keep a slice of X with `x_rows` rows in the L2 cache
// while every row of W streams past it (at least 64). spmm_csr and spmm_bsr
// split n this way themselves; callers looping over column panels of W with
// the strided forms use it to order their loops the same way.
size_t column_slice_width(size_t x_rows);

// Scalar references with the same contracts, accumulating in double; tests
// compare the kernels against them.
void spmm_csr_reference(const CsrView& w, const float* x, size_t n, float* y,
                        const Epilogue& epilogue, size_t row_begin,
                        size_t row_end);
void spmm_csr_strided_reference(const CsrView& w, const float* x, size_t ldx,
                                size_t n, float* y, size_t ldy,
                                const Epilogue& epilogue, size_t row_begin,
                                size_t row_end);
void spmm_csr_shifted_reference(const ShiftedCsrView& w, const float* x,
                                size_t n, float* y, size_t ldy,
                                const Epilogue& epilogue, size_t row_begin,
                                size_t row_end);
void spmm_bsr_reference(const BsrView& w, const float* x, size_t n, float* y,
                        const Epilogue& epilogue, size_t block_row_begin,
                        size_t block_row_end);
void spmm_bsr_strided_reference(const BsrView& w, const float* x, size_t ldx,
                                size_t n, float* y, size_t ldy,
                                const Epilogue& epilogue,
                                size_t block_row_begin, size_t block_row_end);
// act(v) in double, the reference for every kernel's activations.
double activate_reference(double v, Activation activation);

}  // namespace spruce::kernels

#endif  // SPRUCE_KERNELS_SPMM_H_
