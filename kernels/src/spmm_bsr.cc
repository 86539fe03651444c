// Block-sparse (BSR) weights × feature-major dense activations, written once
// with Highway and compiled for every SIMD target.
//
// What blocks buy over CSR: one index per block instead of per non-zero, and
// each activation vector loaded once is used by every row of the block, so an
// R×C block costs C·V loads for R·C·V FMAs (V vectors per tile) where CSR
// pays a load per FMA. For one column, blocks need no gather: a k×1 block is
// one vector FMA of its column against a broadcast activation, and a 1×k
// block a contiguous load of k activations.
//
// Block shapes pruning tools make have register-blocked instantiations;
// anything else, and the edges of matrices whose sides are not multiples of
// the block, run a generic path that is correct for any shape.
#include <cstddef>
#include <cstdint>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/src/spmm_bsr.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/src/activation-inl.h"
#include "kernels/src/column_blocks.h"
#include "spruce/kernels/spmm.h"

HWY_BEFORE_NAMESPACE();
namespace spruce::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class Index>
HWY_INLINE size_t BlockCol(const Index* cols, size_t k) {
  return cols[k];
}

// Accumulators a tile may hold: half the vector registers, leaving room for
// the activation vectors and the broadcast weight.
#if HWY_ARCH_X86 && HWY_TARGET > HWY_AVX3
constexpr size_t kAccumulators = 8;  // 16 vector registers
#else
constexpr size_t kAccumulators = 16;  // 32 vector registers
#endif

// Every row of block row `br` and columns [j, j + Lanes(d)) through the
// generic path: one output vector at a time, any block shape, edge blocks
// clipped to the matrix.
template <class D, class Index>
HWY_INLINE void GenericRows(D d, const BsrView& w, const Index* cols,
                            const float* x, size_t ldx, size_t j, size_t br,
                            const Epilogue& epilogue, float* y, size_t ldy) {
  const size_t R = w.block_rows;
  const size_t C = w.block_cols;
  const uint32_t kb = w.row_ptr[br];
  const uint32_t ke = w.row_ptr[br + 1];
  for (size_t i = 0; i < R && br * R + i < w.rows; ++i) {
    const size_t r = br * R + i;
    auto acc = hn::Set(d, epilogue.bias != nullptr ? epilogue.bias[r] : 0.0f);
    if (epilogue.accumulate) acc = hn::Add(acc, hn::LoadU(d, y + r * ldy + j));
    for (uint32_t k = kb; k < ke; ++k) {
      const size_t c0 = BlockCol(cols, k) * C;
      const float* block = w.values + static_cast<size_t>(k) * R * C + i * C;
      for (size_t jj = 0; jj < C && c0 + jj < w.cols; ++jj) {
        acc = hn::MulAdd(hn::Set(d, block[jj]),
                         hn::LoadU(d, x + (c0 + jj) * ldx + j), acc);
      }
    }
    hn::StoreU(Activate(d, acc, epilogue.activation), d, y + r * ldy + j);
  }
}

template <class Index>
void GenericBlockRow(const BsrView& w, const Index* cols, const float* x,
                     size_t ldx, size_t n, size_t br, const Epilogue& epilogue,
                     float* y, size_t ldy) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 1> d1;
  size_t j = 0;
  for (; j + hn::Lanes(d) <= n; j += hn::Lanes(d)) {
    GenericRows(d, w, cols, x, ldx, j, br, epilogue, y, ldy);
  }
  for (; j < n; ++j) GenericRows(d1, w, cols, x, ldx, j, br, epilogue, y, ldy);
}

#if !HWY_HAVE_SCALABLE
// Rows [i0, i0 + RP) of block row br (R×C blocks), columns
// [j, j + V·Lanes(d)): RP·V accumulators stay in registers across all the
// blocks of the block row; each block loads C·V activation vectors and
// broadcasts RP·C weights.
template <size_t R, size_t C, size_t RP, size_t V, class D, class Index>
HWY_INLINE void BlockTile(D d, const float* HWY_RESTRICT values,
                          const Index* HWY_RESTRICT cols, uint32_t kb,
                          uint32_t ke, const float* HWY_RESTRICT x, size_t ldx,
                          size_t i0, size_t row0, const Epilogue& epilogue,
                          float* HWY_RESTRICT yj, size_t ldy) {
  const size_t lanes = hn::Lanes(d);
  using Vec = hn::Vec<D>;
  Vec acc[RP][V];
  for (size_t i = 0; i < RP; ++i) {
    const float b =
        epilogue.bias != nullptr ? epilogue.bias[row0 + i0 + i] : 0.0f;
    const float* HWY_RESTRICT yr = yj + (i0 + i) * ldy;
    for (size_t v = 0; v < V; ++v) {
      acc[i][v] = hn::Set(d, b);
      if (epilogue.accumulate) {
        acc[i][v] = hn::Add(acc[i][v], hn::LoadU(d, yr + v * lanes));
      }
    }
  }
  for (uint32_t k = kb; k < ke; ++k) {
    const float* HWY_RESTRICT block =
        values + static_cast<size_t>(k) * (R * C) + i0 * C;
    const float* HWY_RESTRICT xb = x + BlockCol(cols, k) * C * ldx;
    for (size_t jj = 0; jj < C; ++jj) {
      Vec xv[V];
      for (size_t v = 0; v < V; ++v) {
        xv[v] = hn::LoadU(d, xb + jj * ldx + v * lanes);
      }
      for (size_t i = 0; i < RP; ++i) {
        const auto wv = hn::Set(d, block[i * C + jj]);
        for (size_t v = 0; v < V; ++v) {
          acc[i][v] = hn::MulAdd(wv, xv[v], acc[i][v]);
        }
      }
    }
  }
  const Activation act = epilogue.activation;
  for (size_t i = 0; i < RP; ++i) {
    float* HWY_RESTRICT yr = yj + (i0 + i) * ldy;
    for (size_t v = 0; v < V; ++v) {
      hn::StoreU(ActivateInStore(d, acc[i][v], act), d, yr + v * lanes);
    }
    if (!FusedInStore(act)) ActivateSpan(yr, V * lanes, act);
  }
}

// All row passes of one column tile.
template <size_t R, size_t C, size_t RP, size_t V, class D, class Index>
HWY_INLINE void BlockTiles(D d, const float* values, const Index* cols,
                           uint32_t kb, uint32_t ke, const float* x, size_t ldx,
                           size_t row0, const Epilogue& epilogue, float* yj,
                           size_t ldy) {
  for (size_t i0 = 0; i0 < R; i0 += RP) {
    BlockTile<R, C, RP, V>(d, values, cols, kb, ke, x, ldx, i0, row0, epilogue,
                           yj, ldy);
  }
}

// n == 1, C == 1: the block's column is a vector over its R rows (in chunks
// of the vector width), times one broadcast activation.
template <size_t R, class Index>
HWY_INLINE void SpmvColumnBlocks(const float* HWY_RESTRICT values,
                                 const Index* HWY_RESTRICT cols, uint32_t kb,
                                 uint32_t ke, const float* HWY_RESTRICT x,
                                 size_t row0, const Epilogue& epilogue,
                                 float* HWY_RESTRICT y) {
  const hn::CappedTag<float, R> d;
  constexpr size_t kLanes = hn::MaxLanes(d);
  constexpr size_t kChunks = R / kLanes;
  static_assert(kChunks * kLanes == R, "R must be a multiple of the lanes");
  using Vec = hn::Vec<decltype(d)>;
  Vec a[kChunks], b[kChunks];
  for (size_t c = 0; c < kChunks; ++c) {
    a[c] = epilogue.bias != nullptr
               ? hn::LoadU(d, epilogue.bias + row0 + c * kLanes)
               : hn::Zero(d);
    if (epilogue.accumulate) {
      a[c] = hn::Add(a[c], hn::LoadU(d, y + row0 + c * kLanes));
    }
    b[c] = hn::Zero(d);
  }
  uint32_t k = kb;
  // Two blocks in flight so the FMA latency chain does not bound short rows.
  for (; k + 2 <= ke; k += 2) {
    const auto x0 = hn::Set(d, x[BlockCol(cols, k)]);
    const auto x1 = hn::Set(d, x[BlockCol(cols, k + 1)]);
    for (size_t c = 0; c < kChunks; ++c) {
      a[c] = hn::MulAdd(hn::LoadU(d, values + k * R + c * kLanes), x0, a[c]);
      b[c] =
          hn::MulAdd(hn::LoadU(d, values + (k + 1) * R + c * kLanes), x1, b[c]);
    }
  }
  if (k < ke) {
    const auto x0 = hn::Set(d, x[BlockCol(cols, k)]);
    for (size_t c = 0; c < kChunks; ++c) {
      a[c] = hn::MulAdd(hn::LoadU(d, values + k * R + c * kLanes), x0, a[c]);
    }
  }
  for (size_t c = 0; c < kChunks; ++c) {
    hn::StoreU(Activate(d, hn::Add(a[c], b[c]), epilogue.activation), d,
               y + row0 + c * kLanes);
  }
}

// C == 1 and fewer than 8 columns (a small batch on R×1 blocks):
// the block's column is a vector over its R rows, as for one column above,
// and each of the N activation columns gets its own accumulators from one
// broadcast, so a block costs one weight load, N broadcasts and N FMAs of R
// rows where the column tiles below would broadcast each of its R weights.
// The sums, one vector per column, are written to the strided output rows
// at the end of the block row.
template <size_t R, size_t N, class Index>
HWY_INLINE void FewColumnsColumnBlocks(const float* HWY_RESTRICT values,
                                       const Index* HWY_RESTRICT cols,
                                       uint32_t kb, uint32_t ke,
                                       const float* HWY_RESTRICT x, size_t ldx,
                                       size_t row0, const Epilogue& epilogue,
                                       float* HWY_RESTRICT y, size_t ldy) {
  const hn::CappedTag<float, R> d;
  constexpr size_t kLanes = hn::MaxLanes(d);
  constexpr size_t kChunks = R / kLanes;
  static_assert(kChunks * kLanes == R, "R must be a multiple of the lanes");
  // Blocks in flight, each with its own accumulators: every accumulator
  // takes one FMA per block, so one set would wait out the FMA latency at
  // each block. Up to four, within eight accumulator registers.
  constexpr size_t kPerSet = N * kChunks;
  constexpr size_t kSets =
      kPerSet >= 8 ? 1 : (8 / kPerSet >= 4 ? 4 : 8 / kPerSet);
  using Vec = hn::Vec<decltype(d)>;
  Vec acc[kSets][N][kChunks];
  HWY_ALIGN float sums[R];
  for (size_t s = 0; s < kSets; ++s) {
    for (size_t j = 0; j < N; ++j) {
      for (size_t c = 0; c < kChunks; ++c) acc[s][j][c] = hn::Zero(d);
    }
  }
  for (size_t j = 0; j < N; ++j) {
    if (epilogue.bias != nullptr) {
      for (size_t c = 0; c < kChunks; ++c) {
        acc[0][j][c] = hn::LoadU(d, epilogue.bias + row0 + c * kLanes);
      }
    }
    if (epilogue.accumulate) {
      for (size_t r = 0; r < R; ++r) sums[r] = y[(row0 + r) * ldy + j];
      for (size_t c = 0; c < kChunks; ++c) {
        acc[0][j][c] = hn::Add(acc[0][j][c], hn::Load(d, sums + c * kLanes));
      }
    }
  }
  uint32_t k = kb;
  for (; k + kSets <= ke; k += kSets) {
    for (size_t s = 0; s < kSets; ++s) {
      const float* HWY_RESTRICT xc = x + BlockCol(cols, k + s) * ldx;
      const float* HWY_RESTRICT wc = values + (k + s) * R;
      Vec wv[kChunks];
      for (size_t c = 0; c < kChunks; ++c) wv[c] = hn::LoadU(d, wc + c * kLanes);
      for (size_t j = 0; j < N; ++j) {
        const auto xj = hn::Set(d, xc[j]);
        for (size_t c = 0; c < kChunks; ++c) {
          acc[s][j][c] = hn::MulAdd(wv[c], xj, acc[s][j][c]);
        }
      }
    }
  }
  for (; k < ke; ++k) {
    const float* HWY_RESTRICT xc = x + BlockCol(cols, k) * ldx;
    for (size_t j = 0; j < N; ++j) {
      const auto xj = hn::Set(d, xc[j]);
      for (size_t c = 0; c < kChunks; ++c) {
        acc[0][j][c] =
            hn::MulAdd(hn::LoadU(d, values + k * R + c * kLanes), xj,
                       acc[0][j][c]);
      }
    }
  }
  const Activation act = epilogue.activation;
  for (size_t j = 0; j < N; ++j) {
    for (size_t c = 0; c < kChunks; ++c) {
      Vec sum = acc[0][j][c];
      for (size_t s = 1; s < kSets; ++s) sum = hn::Add(sum, acc[s][j][c]);
      hn::Store(ActivateInStore(d, sum, act), d, sums + c * kLanes);
    }
    if (!FusedInStore(act)) ActivateSpan(sums, R, act);
    for (size_t r = 0; r < R; ++r) y[(row0 + r) * ldy + j] = sums[r];
  }
}

// Columns [0, n) of one block row through FewColumnsColumnBlocks, four at a
// time (four columns' accumulators and the weight vectors fit in the
// registers of every target with R ≤ 16 rows of 8 lanes), then two and
// one: three widths only, as each is compiled for every block shape, index
// width and target.
template <size_t R, class Index>
HWY_INLINE void FewColumnsBlockRow(const float* values, const Index* cols,
                                   uint32_t kb, uint32_t ke, const float* x,
                                   size_t ldx, size_t n, size_t row0,
                                   const Epilogue& epilogue, float* y,
                                   size_t ldy) {
  size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    FewColumnsColumnBlocks<R, 4>(values, cols, kb, ke, x + j, ldx, row0,
                                 epilogue, y + j, ldy);
  }
  if (j + 2 <= n) {
    FewColumnsColumnBlocks<R, 2>(values, cols, kb, ke, x + j, ldx, row0,
                                 epilogue, y + j, ldy);
    j += 2;
  }
  if (j < n) {
    FewColumnsColumnBlocks<R, 1>(values, cols, kb, ke, x + j, ldx, row0,
                                 epilogue, y + j, ldy);
  }
}

// n == 1, C > 1: each block row is a dot product of C weights with C
// contiguous activations (in chunks of the vector width); two blocks in
// flight, lanes summed at the end.
template <size_t R, size_t C, class Index>
HWY_INLINE void SpmvRowBlocks(const float* HWY_RESTRICT values,
                              const Index* HWY_RESTRICT cols, uint32_t kb,
                              uint32_t ke, const float* HWY_RESTRICT x,
                              size_t row0, const Epilogue& epilogue,
                              float* HWY_RESTRICT y) {
  const hn::CappedTag<float, C> d;
  constexpr size_t kLanes = hn::MaxLanes(d);
  constexpr size_t kChunks = C / kLanes;
  static_assert(kChunks * kLanes == C, "C must be a multiple of the lanes");
  using Vec = hn::Vec<decltype(d)>;
  Vec a[R], b[R];
  for (size_t i = 0; i < R; ++i) a[i] = b[i] = hn::Zero(d);
  uint32_t k = kb;
  for (; k + 2 <= ke; k += 2) {
    const float* HWY_RESTRICT x0 = x + BlockCol(cols, k) * C;
    const float* HWY_RESTRICT x1 = x + BlockCol(cols, k + 1) * C;
    const float* HWY_RESTRICT w0 = values + static_cast<size_t>(k) * R * C;
    const float* HWY_RESTRICT w1 = w0 + R * C;
    for (size_t c = 0; c < kChunks; ++c) {
      const auto xv0 = hn::LoadU(d, x0 + c * kLanes);
      const auto xv1 = hn::LoadU(d, x1 + c * kLanes);
      for (size_t i = 0; i < R; ++i) {
        a[i] = hn::MulAdd(hn::LoadU(d, w0 + i * C + c * kLanes), xv0, a[i]);
        b[i] = hn::MulAdd(hn::LoadU(d, w1 + i * C + c * kLanes), xv1, b[i]);
      }
    }
  }
  if (k < ke) {
    const float* HWY_RESTRICT x0 = x + BlockCol(cols, k) * C;
    const float* HWY_RESTRICT w0 = values + static_cast<size_t>(k) * R * C;
    for (size_t c = 0; c < kChunks; ++c) {
      const auto xv0 = hn::LoadU(d, x0 + c * kLanes);
      for (size_t i = 0; i < R; ++i) {
        a[i] = hn::MulAdd(hn::LoadU(d, w0 + i * C + c * kLanes), xv0, a[i]);
      }
    }
  }
  const hn::CappedTag<float, 1> d1;
  for (size_t i = 0; i < R; ++i) {
    float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(a[i], b[i])));
    if (epilogue.bias != nullptr) sum += epilogue.bias[row0 + i];
    if (epilogue.accumulate) sum += y[row0 + i];
    hn::StoreU(Activate(d1, hn::Set(d1, sum), epilogue.activation), d1,
               y + row0 + i);
  }
}

// Block rows [br_begin, br_end) of a matrix of R×C blocks.
template <size_t R, size_t C, class Index>
void BlockRows(const BsrView& w, const Index* cols, const float* x, size_t ldx,
               size_t n, float* y, size_t ldy, const Epilogue& epilogue,
               size_t br_begin, size_t br_end) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 8> d8;
  const hn::CappedTag<float, 4> d4;
  const hn::CappedTag<float, 1> d1;
  const size_t lanes = hn::Lanes(d);
  constexpr size_t RP = R < kAccumulators ? R : kAccumulators;
  constexpr size_t kV = kAccumulators / RP;
  constexpr size_t V = kV > 8 ? 8 : kV;
  const size_t partial_col = w.cols % C != 0 ? w.cols / C : SIZE_MAX;
  for (size_t br = br_begin; br < br_end; ++br) {
    const uint32_t kb = w.row_ptr[br];
    const uint32_t ke = w.row_ptr[br + 1];
    const size_t row0 = br * R;
    // Blocks sticking out of the matrix take the clipping path.
    if (row0 + R > w.rows ||
        (ke > kb && BlockCol(cols, ke - 1) == partial_col)) {
      GenericBlockRow(w, cols, x, ldx, n, br, epilogue, y, ldy);
      continue;
    }
    if (n == 1 && ldx == 1 && ldy == 1) {
      if constexpr (C == 1) {
        SpmvColumnBlocks<R>(w.values, cols, kb, ke, x, row0, epilogue, y);
      } else {
        SpmvRowBlocks<R, C>(w.values, cols, kb, ke, x, row0, epilogue, y);
      }
      continue;
    }
    // Too few columns for the 8-column tiles below: vectors along the
    // block's rows instead (measured faster from 4x1 to 16x1 blocks; not
    // on the one-lane target, where there is no vector to fill).
    if constexpr (C == 1 && R > 1 && HWY_TARGET != HWY_SCALAR) {
      if (n < 8) {
        FewColumnsBlockRow<R>(w.values, cols, kb, ke, x, ldx, n, row0,
                              epilogue, y, ldy);
        continue;
      }
    }
    float* yb = y + row0 * ldy;
    size_t j = 0;
    for (; j + V * lanes <= n; j += V * lanes) {
      BlockTiles<R, C, RP, V>(d, w.values, cols, kb, ke, x + j, ldx, row0,
                              epilogue, yb + j, ldy);
    }
    for (; j + lanes <= n; j += lanes) {
      BlockTiles<R, C, RP, 1>(d, w.values, cols, kb, ke, x + j, ldx, row0,
                              epilogue, yb + j, ldy);
    }
    // Fewer columns than a vector (small batches): half and quarter
    // vectors before single columns.
    if (hn::Lanes(d8) < lanes && j + hn::Lanes(d8) <= n) {
      BlockTiles<R, C, RP, 1>(d8, w.values, cols, kb, ke, x + j, ldx, row0,
                              epilogue, yb + j, ldy);
      j += hn::Lanes(d8);
    }
    if (hn::Lanes(d4) < lanes && j + hn::Lanes(d4) <= n) {
      BlockTiles<R, C, RP, 1>(d4, w.values, cols, kb, ke, x + j, ldx, row0,
                              epilogue, yb + j, ldy);
      j += hn::Lanes(d4);
    }
    for (; j < n; ++j) {
      BlockTiles<R, C, RP, 1>(d1, w.values, cols, kb, ke, x + j, ldx, row0,
                              epilogue, yb + j, ldy);
    }
  }
}
#endif  // !HWY_HAVE_SCALABLE

template <class Index>
void GenericRowsOf(const BsrView& w, const Index* cols, const float* x,
                   size_t ldx, size_t n, float* y, size_t ldy,
                   const Epilogue& epilogue, size_t br_begin, size_t br_end) {
  for (size_t br = br_begin; br < br_end; ++br) {
    GenericBlockRow(w, cols, x, ldx, n, br, epilogue, y, ldy);
  }
}

template <class Index>
void SpmmBsrTyped(const BsrView& w, const float* x, size_t ldx, size_t n,
                  float* y, size_t ldy, const Epilogue& epilogue,
                  size_t br_begin, size_t br_end) {
  const auto* cols = static_cast<const Index*>(w.col_idx);
#if !HWY_HAVE_SCALABLE
  const size_t shape = w.block_rows * 100 + w.block_cols;
  switch (shape) {
#define SPRUCE_BLOCK_SHAPE(r, c) \
  case r * 100 + c:              \
    return BlockRows<r, c>(w, cols, x, ldx, n, y, ldy, epilogue, br_begin, br_end);
#include "spruce/kernels/block_shapes.inc"
#undef SPRUCE_BLOCK_SHAPE
    default:
      break;
  }
#endif
  GenericRowsOf(w, cols, x, ldx, n, y, ldy, epilogue, br_begin, br_end);
}

void SpmmBsr(const BsrView& w, const float* x, size_t ldx, size_t n, float* y,
             size_t ldy, const Epilogue& epilogue, size_t br_begin,
             size_t br_end) {
  if (w.index_width == IndexWidth::k16) {
    SpmmBsrTyped<uint16_t>(w, x, ldx, n, y, ldy, epilogue, br_begin, br_end);
  } else {
    SpmmBsrTyped<uint32_t>(w, x, ldx, n, y, ldy, epilogue, br_begin, br_end);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace spruce::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace spruce::kernels {

HWY_EXPORT(SpmmBsr);

void spmm_bsr(const BsrView& w, const float* x, size_t n, float* y,
              const Epilogue& epilogue, size_t block_row_begin,
              size_t block_row_end) {
  for_column_blocks(w.cols, n, [&](size_t j0, size_t width) {
    HWY_DYNAMIC_DISPATCH(SpmmBsr)
    (w, x + j0, n, width, y + j0, n, epilogue, block_row_begin, block_row_end);
  });
}

void spmm_bsr_strided(const BsrView& w, const float* x, size_t ldx, size_t n,
                      float* y, size_t ldy, const Epilogue& epilogue,
                      size_t block_row_begin, size_t block_row_end) {
  HWY_DYNAMIC_DISPATCH(SpmmBsr)
  (w, x, ldx, n, y, ldy, epilogue, block_row_begin, block_row_end);
}

}  // namespace spruce::kernels
#endif  // HWY_ONCE
