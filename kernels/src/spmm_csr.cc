// CSR sparse weights × feature-major dense activations, written once with
// Highway and compiled for every SIMD target (foreach_target.h); the best one
// for the running CPU is chosen once per call.
//
// Many columns: each non-zero is one weight broadcast and vector FMAs over a
// tile of the output row (the XNNPACK f32-spmm technique), with enough
// independent accumulators to hide the FMA latency.
// One column (batch-1 latency): the row is a sparse dot product; column indices
// are widened to 32 bits and the activations fetched with a vector gather.
#include <cstddef>
#include <cstdint>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/src/spmm_csr.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/src/activation-inl.h"
#include "kernels/src/column_blocks.h"
#include "kernels/src/sweep-inl.h"
#include "kernels/src/table_lookup-inl.h"
#include "spruce/kernels/spmm.h"

HWY_BEFORE_NAMESPACE();
namespace spruce::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Column indices as a vector of int32 for GatherIndex.
template <class DI>
HWY_INLINE hn::Vec<DI> LoadIndices(DI di, const uint32_t* p) {
  return hn::BitCast(di, hn::LoadU(hn::RebindToUnsigned<DI>(), p));
}
template <class DI>
HWY_INLINE hn::Vec<DI> LoadIndices(DI di, const uint16_t* p) {
  return hn::PromoteTo(di, hn::LoadU(hn::Rebind<uint16_t, DI>(), p));
}

// sum_k values[k] * x[cols[k] * stride] for k in [kb, ke).
template <class Index>
HWY_INLINE float SparseDot(const float* HWY_RESTRICT values,
                           const Index* HWY_RESTRICT cols, uint32_t kb,
                           uint32_t ke, const float* HWY_RESTRICT x,
                           size_t stride) {
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
  uint32_t k = kb;
  for (; k + 4 <= ke; k += 4) {
    s0 += values[k + 0] * x[cols[k + 0] * stride];
    s1 += values[k + 1] * x[cols[k + 1] * stride];
    s2 += values[k + 2] * x[cols[k + 2] * stride];
    s3 += values[k + 3] * x[cols[k + 3] * stride];
  }
  for (; k < ke; ++k) s0 += values[k] * x[cols[k] * stride];
  return (s0 + s1) + (s2 + s3);
}

// An accumulator's starting value: the bias, plus what is in y when
// accumulating over column panels.
template <class D>
HWY_INLINE hn::Vec<D> Start(D d, float bias, bool accumulate,
                            const float* HWY_RESTRICT y) {
  const auto b = hn::Set(d, bias);
  return accumulate ? hn::Add(b, hn::LoadU(d, y)) : b;
}

// y[r] = act(bias + sum), one output at a time.
HWY_INLINE void StoreScalar(float sum, Activation act, float* HWY_RESTRICT y) {
  const hn::CappedTag<float, 1> d1;
  hn::StoreU(Activate(d1, hn::Set(d1, sum), act), d1, y);
}

// n == 1: y[r] = act(bias[r] + dot(W[r, :], x)), gathers over the row and
// scalar loads for its last few non-zeros (measured faster than padding the
// tail into one more gather).
template <class Index>
void SpmvRows(const CsrView& w, const Index* HWY_RESTRICT cols,
              const float* HWY_RESTRICT x, float* HWY_RESTRICT y,
              const Epilogue& epilogue, size_t row_begin, size_t row_end) {
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const size_t lanes = hn::Lanes(d);
  const float* HWY_RESTRICT values = w.values;
  for (size_t r = row_begin; r < row_end; ++r) {
    const uint32_t kb = w.row_ptr[r];
    const uint32_t ke = w.row_ptr[r + 1];
    if (ke - kb < lanes) {
      // Shorter than a gather (a squeeze-excite expansion's rows hold ~5):
      // the reduction of empty vectors would cost more than the row.
      float sum = SparseDot(values, cols, kb, ke, x, 1);
      if (epilogue.bias != nullptr) sum += epilogue.bias[r];
      if (epilogue.accumulate) sum += y[r];
      StoreScalar(sum, epilogue.activation, y + r);
      continue;
    }
    auto acc0 = hn::Zero(d);
    auto acc1 = hn::Zero(d);
    uint32_t k = kb;
    for (; k + 2 * lanes <= ke; k += static_cast<uint32_t>(2 * lanes)) {
      const auto x0 = hn::GatherIndex(d, x, LoadIndices(di, cols + k));
      const auto x1 = hn::GatherIndex(d, x, LoadIndices(di, cols + k + lanes));
      acc0 = hn::MulAdd(hn::LoadU(d, values + k), x0, acc0);
      acc1 = hn::MulAdd(hn::LoadU(d, values + k + lanes), x1, acc1);
    }
    if (k + lanes <= ke) {
      const auto x0 = hn::GatherIndex(d, x, LoadIndices(di, cols + k));
      acc0 = hn::MulAdd(hn::LoadU(d, values + k), x0, acc0);
      k += static_cast<uint32_t>(lanes);
    }
    float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1)));
    sum += SparseDot(values, cols, k, ke, x, 1);
    if (epilogue.bias != nullptr) sum += epilogue.bias[r];
    if (epilogue.accumulate) sum += y[r];
    StoreScalar(sum, epilogue.activation, y + r);
  }
}

// Columns [j, j + 8 lanes) of one row's segment: one index and broadcast feed
// eight independent FMA chains, and each activation row is read as one
// contiguous run of eight vectors.
template <class D, class Index>
HWY_INLINE void Tile8(D d, const float* HWY_RESTRICT values,
                      const Index* HWY_RESTRICT cols, uint32_t kb, uint32_t ke,
                      const float* HWY_RESTRICT x, size_t n, float bias,
                      bool accumulate, Activation act, float* HWY_RESTRICT yj) {
  const size_t lanes = hn::Lanes(d);
  using V = hn::Vec<D>;
  V a0 = Start(d, bias, accumulate, yj);
  V a1 = Start(d, bias, accumulate, yj + lanes);
  V a2 = Start(d, bias, accumulate, yj + 2 * lanes);
  V a3 = Start(d, bias, accumulate, yj + 3 * lanes);
  V a4 = Start(d, bias, accumulate, yj + 4 * lanes);
  V a5 = Start(d, bias, accumulate, yj + 5 * lanes);
  V a6 = Start(d, bias, accumulate, yj + 6 * lanes);
  V a7 = Start(d, bias, accumulate, yj + 7 * lanes);
  for (uint32_t k = kb; k < ke; ++k) {
    const float* HWY_RESTRICT xr = x + static_cast<size_t>(cols[k]) * n;
    const auto wv = hn::Set(d, values[k]);
    a0 = hn::MulAdd(wv, hn::LoadU(d, xr), a0);
    a1 = hn::MulAdd(wv, hn::LoadU(d, xr + lanes), a1);
    a2 = hn::MulAdd(wv, hn::LoadU(d, xr + 2 * lanes), a2);
    a3 = hn::MulAdd(wv, hn::LoadU(d, xr + 3 * lanes), a3);
    a4 = hn::MulAdd(wv, hn::LoadU(d, xr + 4 * lanes), a4);
    a5 = hn::MulAdd(wv, hn::LoadU(d, xr + 5 * lanes), a5);
    a6 = hn::MulAdd(wv, hn::LoadU(d, xr + 6 * lanes), a6);
    a7 = hn::MulAdd(wv, hn::LoadU(d, xr + 7 * lanes), a7);
  }
  hn::StoreU(ActivateInStore(d, a0, act), d, yj);
  hn::StoreU(ActivateInStore(d, a1, act), d, yj + lanes);
  hn::StoreU(ActivateInStore(d, a2, act), d, yj + 2 * lanes);
  hn::StoreU(ActivateInStore(d, a3, act), d, yj + 3 * lanes);
  hn::StoreU(ActivateInStore(d, a4, act), d, yj + 4 * lanes);
  hn::StoreU(ActivateInStore(d, a5, act), d, yj + 5 * lanes);
  hn::StoreU(ActivateInStore(d, a6, act), d, yj + 6 * lanes);
  hn::StoreU(ActivateInStore(d, a7, act), d, yj + 7 * lanes);
  if (!FusedInStore(act)) ActivateSpan(yj, 8 * lanes, act);
}

// V = 2, 3 or 4 vectors, two non-zeros in flight: 2V independent FMA
// chains, each activation row read as one contiguous run of V vectors. With
// kMaskLast the last vector holds only the row's last `count` columns
// (masked loads and stores, AVX2 and up): a row's tail then rides along in
// the same pass over its non-zeros instead of one pass per narrower width
// (a 7×7 convolution's 63-column rows took four passes).
template <size_t V, bool kMaskLast = false, class D, class Index>
HWY_INLINE void TileV(D d, const float* HWY_RESTRICT values,
                      const Index* HWY_RESTRICT cols, uint32_t kb, uint32_t ke,
                      const float* HWY_RESTRICT x, size_t n, float bias,
                      bool accumulate, Activation act, float* HWY_RESTRICT yj,
                      size_t count = 0) {
  static_assert(V >= 2 && V <= 4, "two to four vectors");
  const size_t lanes = hn::Lanes(d);
  using Vec = hn::Vec<D>;
  const auto m = hn::FirstN(d, kMaskLast ? count : lanes);
  // Vector v of a row starting at p: the last one masked if asked.
  auto load = [&](const float* HWY_RESTRICT p, size_t v) {
    return kMaskLast && v + 1 == V ? hn::MaskedLoad(m, d, p + v * lanes)
                                   : hn::LoadU(d, p + v * lanes);
  };
  auto start = [&](size_t v) {
    const Vec b = hn::Set(d, bias);
    return accumulate ? hn::Add(b, load(yj, v)) : b;
  };
  Vec a0 = start(0);
  Vec a1 = start(1);
  Vec a2 = V >= 3 ? start(2) : hn::Zero(d);
  Vec a3 = V >= 4 ? start(3) : hn::Zero(d);
  Vec b0 = hn::Zero(d), b1 = b0, b2 = b0, b3 = b0;
  uint32_t k = kb;
  for (; k + 2 <= ke; k += 2) {
    const float* HWY_RESTRICT xr = x + static_cast<size_t>(cols[k]) * n;
    const float* HWY_RESTRICT xs = x + static_cast<size_t>(cols[k + 1]) * n;
    const auto wv = hn::Set(d, values[k]);
    const auto wu = hn::Set(d, values[k + 1]);
    a0 = hn::MulAdd(wv, load(xr, 0), a0);
    a1 = hn::MulAdd(wv, load(xr, 1), a1);
    if (V >= 3) a2 = hn::MulAdd(wv, load(xr, 2), a2);
    if (V >= 4) a3 = hn::MulAdd(wv, load(xr, 3), a3);
    b0 = hn::MulAdd(wu, load(xs, 0), b0);
    b1 = hn::MulAdd(wu, load(xs, 1), b1);
    if (V >= 3) b2 = hn::MulAdd(wu, load(xs, 2), b2);
    if (V >= 4) b3 = hn::MulAdd(wu, load(xs, 3), b3);
  }
  if (k < ke) {
    const float* HWY_RESTRICT xr = x + static_cast<size_t>(cols[k]) * n;
    const auto wv = hn::Set(d, values[k]);
    a0 = hn::MulAdd(wv, load(xr, 0), a0);
    a1 = hn::MulAdd(wv, load(xr, 1), a1);
    if (V >= 3) a2 = hn::MulAdd(wv, load(xr, 2), a2);
    if (V >= 4) a3 = hn::MulAdd(wv, load(xr, 3), a3);
  }
  auto store = [&](Vec sum, size_t v) {
    const Vec out = ActivateInStore(d, sum, act);
    if (kMaskLast && v + 1 == V) {
      StorePartial(out, count, d, yj + v * lanes);
    } else {
      hn::StoreU(out, d, yj + v * lanes);
    }
  };
  store(hn::Add(a0, b0), 0);
  store(hn::Add(a1, b1), 1);
  if (V >= 3) store(hn::Add(a2, b2), 2);
  if (V >= 4) store(hn::Add(a3, b3), 3);
  if (!FusedInStore(act)) {
    ActivateSpan(yj, kMaskLast ? (V - 1) * lanes + count : V * lanes, act);
  }
}

// One vector of any width d (full, or capped for the tail). The non-zeros
// are split over four accumulators so that the FMA latency chain does not
// limit throughput.
template <class D, class Index>
HWY_INLINE void Tile1(D d, const float* HWY_RESTRICT values,
                      const Index* HWY_RESTRICT cols, uint32_t kb, uint32_t ke,
                      const float* HWY_RESTRICT x, size_t n, float bias,
                      bool accumulate, Activation act, float* HWY_RESTRICT yj) {
  auto a0 = Start(d, bias, accumulate, yj);
  auto a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  uint32_t k = kb;
  for (; k + 4 <= ke; k += 4) {
    a0 = hn::MulAdd(hn::Set(d, values[k]), hn::LoadU(d, x + cols[k] * n), a0);
    a1 = hn::MulAdd(hn::Set(d, values[k + 1]),
                    hn::LoadU(d, x + cols[k + 1] * n), a1);
    a2 = hn::MulAdd(hn::Set(d, values[k + 2]),
                    hn::LoadU(d, x + cols[k + 2] * n), a2);
    a3 = hn::MulAdd(hn::Set(d, values[k + 3]),
                    hn::LoadU(d, x + cols[k + 3] * n), a3);
  }
  for (; k < ke; ++k) {
    a0 = hn::MulAdd(hn::Set(d, values[k]), hn::LoadU(d, x + cols[k] * n), a0);
  }
  const auto sum = hn::Add(hn::Add(a0, a1), hn::Add(a2, a3));
  hn::StoreU(Activate(d, sum, act), d, yj);
}

// The last `count` (< one vector) columns of a row as one masked vector:
// reads and writes only those columns. On AVX2 and AVX-512 masked loads are
// unaligned and do not fault on the lanes left out; targets before AVX2
// take the narrower tiles below instead.
template <class D, class Index>
HWY_INLINE void TileMasked(D d, size_t count, const float* HWY_RESTRICT values,
                           const Index* HWY_RESTRICT cols, uint32_t kb,
                           uint32_t ke, const float* HWY_RESTRICT x, size_t n,
                           float bias, bool accumulate, Activation act,
                           float* HWY_RESTRICT yj) {
  const auto m = hn::FirstN(d, count);
  auto a0 = hn::Set(d, bias);
  if (accumulate) a0 = hn::Add(a0, hn::MaskedLoad(m, d, yj));
  auto a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  uint32_t k = kb;
  for (; k + 4 <= ke; k += 4) {
    a0 = hn::MulAdd(hn::Set(d, values[k]),
                    hn::MaskedLoad(m, d, x + cols[k] * n), a0);
    a1 = hn::MulAdd(hn::Set(d, values[k + 1]),
                    hn::MaskedLoad(m, d, x + cols[k + 1] * n), a1);
    a2 = hn::MulAdd(hn::Set(d, values[k + 2]),
                    hn::MaskedLoad(m, d, x + cols[k + 2] * n), a2);
    a3 = hn::MulAdd(hn::Set(d, values[k + 3]),
                    hn::MaskedLoad(m, d, x + cols[k + 3] * n), a3);
  }
  for (; k < ke; ++k) {
    a0 = hn::MulAdd(hn::Set(d, values[k]), hn::MaskedLoad(m, d, x + cols[k] * n),
                    a0);
  }
  const auto sum = hn::Add(hn::Add(a0, a1), hn::Add(a2, a3));
  StorePartial(ActivateInStore(d, sum, act), count, d, yj);
  if (!FusedInStore(act)) ActivateSpan(yj, count, act);
}

// n > 1: column tiles of 8, then 4 vectors, then on AVX2 and up the rest
// (up to three vectors and a partial one) in one pass with its last vector
// masked; before AVX2 3, 2 or 1 vectors, then half and quarter vectors, then
// the last columns as scalars. One output row at a time.
// X's rows are ldx apart and Y's ldy apart.
template <class Index>
void SpmmRows(const CsrView& w, const Index* HWY_RESTRICT cols,
              const float* HWY_RESTRICT x, size_t ldx, size_t n,
              float* HWY_RESTRICT y, size_t ldy, const Epilogue& epilogue,
              size_t row_begin, size_t row_end) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 8> d8;
  const hn::CappedTag<float, 4> d4;
  const size_t lanes = hn::Lanes(d);
  const float* HWY_RESTRICT values = w.values;
  const Activation act = epilogue.activation;
  const bool acc = epilogue.accumulate;
  for (size_t r = row_begin; r < row_end; ++r) {
    const uint32_t kb = w.row_ptr[r];
    const uint32_t ke = w.row_ptr[r + 1];
    const float bias = epilogue.bias != nullptr ? epilogue.bias[r] : 0.0f;
    float* HWY_RESTRICT yr = y + r * ldy;
    size_t j = 0;
    for (; j + 8 * lanes <= n; j += 8 * lanes) {
      Tile8(d, values, cols, kb, ke, x + j, ldx, bias, acc, act, yr + j);
    }
    // The remaining whole vectors (up to seven) in at most two passes over
    // the row's non-zeros.
    if (j + 4 * lanes <= n) {
      TileV<4>(d, values, cols, kb, ke, x + j, ldx, bias, acc, act, yr + j);
      j += 4 * lanes;
    }
    const size_t vectors = (n - j) / lanes;
#if HWY_TARGET <= HWY_AVX2
    // Up to three whole vectors and a tail: one pass, the tail masked.
    const size_t tail = n - j - vectors * lanes;
    if (tail > 0) {
      if (vectors == 3) {
        TileV<4, true>(d, values, cols, kb, ke, x + j, ldx, bias, acc, act,
                       yr + j, tail);
      } else if (vectors == 2) {
        TileV<3, true>(d, values, cols, kb, ke, x + j, ldx, bias, acc, act,
                       yr + j, tail);
      } else if (vectors == 1) {
        TileV<2, true>(d, values, cols, kb, ke, x + j, ldx, bias, acc, act,
                       yr + j, tail);
      } else {
        TileMasked(d, tail, values, cols, kb, ke, x + j, ldx, bias, acc, act,
                   yr + j);
      }
      continue;
    }
#endif
    if (vectors == 3) {
      TileV<3>(d, values, cols, kb, ke, x + j, ldx, bias, acc, act, yr + j);
    } else if (vectors == 2) {
      TileV<2>(d, values, cols, kb, ke, x + j, ldx, bias, acc, act, yr + j);
    } else if (vectors == 1) {
      Tile1(d, values, cols, kb, ke, x + j, ldx, bias, acc, act, yr + j);
    }
    j += vectors * lanes;
    if (hn::Lanes(d8) < lanes && j + hn::Lanes(d8) <= n) {
      Tile1(d8, values, cols, kb, ke, x + j, ldx, bias, acc, act, yr + j);
      j += hn::Lanes(d8);
    }
    if (hn::Lanes(d4) < lanes && j + hn::Lanes(d4) <= n) {
      Tile1(d4, values, cols, kb, ke, x + j, ldx, bias, acc, act, yr + j);
      j += hn::Lanes(d4);
    }
#if HWY_TARGET <= HWY_AVX2
    if (j < n) {
      TileMasked(d4, n - j, values, cols, kb, ke, x + j, ldx, bias, acc, act,
                 yr + j);
      continue;
    }
#endif
    for (; j < n; ++j) {
      const float start = acc ? bias + yr[j] : bias;
      StoreScalar(start + SparseDot(values, cols, kb, ke, x + j, ldx), act,
                  yr + j);
    }
  }
}

// acc[v] += the non-zeros [kb, ke) of one shift class times the aligned
// vectors at xs + offset + v·lanes, v < NV: each non-zero one broadcast and
// NV FMAs.
template <size_t NV, class D>
HWY_INLINE void AccumulateClass(D d, const float* HWY_RESTRICT values,
                                const uint32_t* HWY_RESTRICT cols, uint32_t kb,
                                uint32_t ke, const float* HWY_RESTRICT xs,
                                hn::Vec<D>* HWY_RESTRICT acc) {
  const size_t lanes = hn::Lanes(d);
  for (uint32_t e = kb; e < ke; ++e) {
    const float* HWY_RESTRICT xr = xs + cols[e];
    const auto wv = hn::Set(d, values[e]);
    HWY_UNROLL(9)
    for (size_t v = 0; v < NV; ++v) {
      acc[v] = hn::MulAdd(wv, hn::Load(d, xr + v * lanes), acc[v]);
    }
  }
}

// Shifted CSR (spmm.h) on targets whose aligned vectors it pays to keep:
// AddShifted<NV>(d, lane, b, a) adds lanes [lane, lane + lanes) of each
// b[v]:b[v + 1] to a[v], for 0 < lane < lanes. (Defined per target.)
#undef SPRUCE_HAVE_SHIFTED_TILE
#if SPRUCE_HAVE_LOOKUP32
// 16-float vectors: one two-vector lane lookup per vector.
template <size_t NV>
HWY_INLINE void AddShifted(hn::Full512<float> /*d*/, uint32_t lane,
                           const hn::Vec512<float>* b, hn::Vec512<float>* a) {
  const hn::Full512<int32_t> di;
  const auto index =
      hn::Add(hn::Iota(di, 0), hn::Set(di, static_cast<int32_t>(lane)));
  HWY_UNROLL(8)
  for (size_t v = 0; v < NV; ++v) {
    a[v] = hn::Add(a[v], Lookup32(b[v], b[v + 1], index));
  }
}
#define SPRUCE_HAVE_SHIFTED_TILE 1
#elif HWY_TARGET == HWY_AVX2
// Lanes [R, R + 8) of the 16 floats lo:hi, 0 < R < 8: a swap of 128-bit
// blocks and an alignment within them, no index vector.
template <int R, class D>
HWY_INLINE hn::Vec<D> LanesFrom(D d, hn::Vec<D> lo, hn::Vec<D> hi) {
  const hn::Vec<D> mid = hn::ConcatLowerUpper(d, hi, lo);  // lo:hi's middle
  if constexpr (R < 4) {
    return hn::CombineShiftRightBytes<4 * R>(d, mid, lo);
  } else if constexpr (R == 4) {
    return mid;
  } else {
    return hn::CombineShiftRightBytes<4 * (R - 4)>(d, hi, mid);
  }
}

template <int R, size_t NV, class D>
HWY_INLINE void AddLanesFrom(D d, const hn::Vec<D>* b, hn::Vec<D>* a) {
  HWY_UNROLL(6)
  for (size_t v = 0; v < NV; ++v) {
    a[v] = hn::Add(a[v], LanesFrom<R>(d, b[v], b[v + 1]));
  }
}

// 8-float vectors: the shift a template argument, picked once per class.
template <size_t NV>
HWY_INLINE void AddShifted(hn::Full256<float> d, uint32_t lane,
                           const hn::Vec256<float>* b, hn::Vec256<float>* a) {
  switch (lane) {
    case 1:
      return AddLanesFrom<1, NV>(d, b, a);
    case 2:
      return AddLanesFrom<2, NV>(d, b, a);
    case 3:
      return AddLanesFrom<3, NV>(d, b, a);
    case 4:
      return AddLanesFrom<4, NV>(d, b, a);
    case 5:
      return AddLanesFrom<5, NV>(d, b, a);
    case 6:
      return AddLanesFrom<6, NV>(d, b, a);
    default:
      return AddLanesFrom<7, NV>(d, b, a);
  }
}
#define SPRUCE_HAVE_SHIFTED_TILE 1
#else
#define SPRUCE_HAVE_SHIFTED_TILE 0
#endif

#if SPRUCE_HAVE_SHIFTED_TILE
// Outputs [j, j + NV vectors) of logical row r. A shift s reads from the
// vector boundary s − s mod lanes, so every load is aligned (on AVX2,
// unaligned ones measured 15-29% slower in L1, conv_bench csr-l1). The
// non-zeros of a class with s mod lanes == 0 accumulate straight into a[];
// the others into b[] over one more vector (b[v] lane l is the sum at
// output l + v·lanes − s mod lanes), moved into place by AddShifted once
// the class is done.
template <size_t NV, class D>
HWY_INLINE void ShiftedTile(D d, const ShiftedCsrView& w, size_t r,
                            const float* HWY_RESTRICT x, float bias,
                            bool accumulate, Activation act,
                            float* HWY_RESTRICT yj) {
  const size_t lanes = hn::Lanes(d);
  using V = hn::Vec<D>;
  const uint32_t* HWY_RESTRICT row_ptr = w.csr.row_ptr;
  const auto* HWY_RESTRICT cols = static_cast<const uint32_t*>(w.csr.col_idx);
  const float* HWY_RESTRICT values = w.csr.values;
  V a[NV];
  HWY_UNROLL(8)
  for (size_t v = 0; v < NV; ++v) {
    a[v] = Start(d, bias, accumulate, yj + v * lanes);
  }
  for (size_t k = 0; k < w.classes; ++k) {
    const uint32_t kb = row_ptr[r * w.classes + k];
    const uint32_t ke = row_ptr[r * w.classes + k + 1];
    if (kb == ke) continue;
    const uint32_t lane = w.shifts[k] % lanes;
    const float* HWY_RESTRICT xs = x + (w.shifts[k] - lane);
    if (lane == 0) {
      AccumulateClass<NV>(d, values, cols, kb, ke, xs, a);
      continue;
    }
    V b[NV + 1];
    HWY_UNROLL(9)
    for (size_t v = 0; v <= NV; ++v) b[v] = hn::Zero(d);
    AccumulateClass<NV + 1>(d, values, cols, kb, ke, xs, b);
    AddShifted<NV>(d, lane, b, a);
  }
  HWY_UNROLL(8)
  for (size_t v = 0; v < NV; ++v) {
    hn::StoreU(ActivateInStore(d, a[v], act), d, yj + v * lanes);
  }
  if (!FusedInStore(act)) ActivateSpan(yj, NV * lanes, act);
}
#endif  // SPRUCE_HAVE_SHIFTED_TILE

// Other targets: one vector at a time, each non-zero loaded at its own
// offset (unaligned where shifted).
template <class D>
HWY_INLINE void ShiftedVector(D d, const ShiftedCsrView& w, size_t r,
                              const float* HWY_RESTRICT x, float bias,
                              bool accumulate, Activation act,
                              float* HWY_RESTRICT yj) {
  const uint32_t* HWY_RESTRICT row_ptr = w.csr.row_ptr;
  const auto* HWY_RESTRICT cols = static_cast<const uint32_t*>(w.csr.col_idx);
  const float* HWY_RESTRICT values = w.csr.values;
  auto a0 = Start(d, bias, accumulate, yj);
  auto a1 = hn::Zero(d);
  for (size_t k = 0; k < w.classes; ++k) {
    const float* HWY_RESTRICT xs = x + w.shifts[k];
    uint32_t e = row_ptr[r * w.classes + k];
    const uint32_t ke = row_ptr[r * w.classes + k + 1];
    for (; e + 2 <= ke; e += 2) {
      a0 = hn::MulAdd(hn::Set(d, values[e]), hn::LoadU(d, xs + cols[e]), a0);
      a1 = hn::MulAdd(hn::Set(d, values[e + 1]), hn::LoadU(d, xs + cols[e + 1]),
                      a1);
    }
    if (e < ke) {
      a0 = hn::MulAdd(hn::Set(d, values[e]), hn::LoadU(d, xs + cols[e]), a0);
    }
  }
  hn::StoreU(Activate(d, hn::Add(a0, a1), act), d, yj);
}

void SpmmCsrShifted(const ShiftedCsrView& w, const float* x, size_t n, float* y,
                    size_t ldy, const Epilogue& epilogue, size_t row_begin,
                    size_t row_end) {
  const Activation act = epilogue.activation;
  const bool acc = epilogue.accumulate;
  for (size_t r = row_begin; r < row_end; ++r) {
    const float bias = epilogue.bias != nullptr ? epilogue.bias[r] : 0.0f;
    float* HWY_RESTRICT yr = y + r * ldy;
#if SPRUCE_HAVE_LOOKUP32
    // n is whole 16-float vectors: tiles of eight, then the rest in one.
    const hn::Full512<float> d;
    size_t j = 0;
    for (; j + 8 * 16 <= n; j += 8 * 16) {
      ShiftedTile<8>(d, w, r, x + j, bias, acc, act, yr + j);
    }
    switch ((n - j) / 16) {
      case 7:
        ShiftedTile<7>(d, w, r, x + j, bias, acc, act, yr + j);
        break;
      case 6:
        ShiftedTile<6>(d, w, r, x + j, bias, acc, act, yr + j);
        break;
      case 5:
        ShiftedTile<5>(d, w, r, x + j, bias, acc, act, yr + j);
        break;
      case 4:
        ShiftedTile<4>(d, w, r, x + j, bias, acc, act, yr + j);
        break;
      case 3:
        ShiftedTile<3>(d, w, r, x + j, bias, acc, act, yr + j);
        break;
      case 2:
        ShiftedTile<2>(d, w, r, x + j, bias, acc, act, yr + j);
        break;
      case 1:
        ShiftedTile<1>(d, w, r, x + j, bias, acc, act, yr + j);
        break;
      default:
        break;
    }
#elif HWY_TARGET == HWY_AVX2
    // n is whole 16-float vectors: tiles of six 8-float vectors, then the
    // rest (two or four) in one.
    const hn::Full256<float> d;
    size_t j = 0;
    for (; j + 6 * 8 <= n; j += 6 * 8) {
      ShiftedTile<6>(d, w, r, x + j, bias, acc, act, yr + j);
    }
    if (n - j == 4 * 8) {
      ShiftedTile<4>(d, w, r, x + j, bias, acc, act, yr + j);
    } else if (n - j == 2 * 8) {
      ShiftedTile<2>(d, w, r, x + j, bias, acc, act, yr + j);
    }
#else
    const hn::CappedTag<float, 16> d;
    for (size_t j = 0; j < n; j += hn::Lanes(d)) {
      ShiftedVector(d, w, r, x + j, bias, acc, act, yr + j);
    }
#endif
  }
}

template <class Index>
void SpmmCsrTyped(const CsrView& w, const float* x, size_t ldx, size_t n,
                  float* y, size_t ldy, const Epilogue& epilogue,
                  size_t row_begin, size_t row_end) {
  const auto* cols = static_cast<const Index*>(w.col_idx);
  if (n == 1 && ldx == 1 && ldy == 1) {
    SpmvRows(w, cols, x, y, epilogue, row_begin, row_end);
  } else {
    SpmmRows(w, cols, x, ldx, n, y, ldy, epilogue, row_begin, row_end);
  }
}

void SpmmCsr(const CsrView& w, const float* x, size_t ldx, size_t n, float* y,
             size_t ldy, const Epilogue& epilogue, size_t row_begin,
             size_t row_end) {
  if (w.index_width == IndexWidth::k16) {
    SpmmCsrTyped<uint16_t>(w, x, ldx, n, y, ldy, epilogue, row_begin, row_end);
  } else {
    SpmmCsrTyped<uint32_t>(w, x, ldx, n, y, ldy, epilogue, row_begin, row_end);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace spruce::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace spruce::kernels {

HWY_EXPORT(SpmmCsr);
HWY_EXPORT(SpmmCsrShifted);

void spmm_csr(const CsrView& w, const float* x, size_t n, float* y,
              const Epilogue& epilogue, size_t row_begin, size_t row_end) {
  for_column_blocks(w.cols, n, [&](size_t j0, size_t width) {
    HWY_DYNAMIC_DISPATCH(SpmmCsr)
    (w, x + j0, n, width, y + j0, n, epilogue, row_begin, row_end);
  });
}

size_t column_slice_width(size_t x_rows) { return column_slice(x_rows); }

void spmm_csr_shifted(const ShiftedCsrView& w, const float* x, size_t n,
                      float* y, size_t ldy, const Epilogue& epilogue,
                      size_t row_begin, size_t row_end) {
  HWY_DYNAMIC_DISPATCH(SpmmCsrShifted)
  (w, x, n, y, ldy, epilogue, row_begin, row_end);
}

void spmm_csr_strided(const CsrView& w, const float* x, size_t ldx, size_t n,
                      float* y, size_t ldy, const Epilogue& epilogue,
                      size_t row_begin, size_t row_end) {
  HWY_DYNAMIC_DISPATCH(SpmmCsr)
  (w, x, ldx, n, y, ldy, epilogue, row_begin, row_end);
}

}  // namespace spruce::kernels
#endif  // HWY_ONCE
