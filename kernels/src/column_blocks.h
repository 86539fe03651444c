// Column blocking shared by the sparse × dense kernels.
//
// Each non-zero of W reads one row of X over the columns being computed. Done
// over all n columns at once, a wide X (a batch of sequences: 2048 columns ×
// 3072 features is 24 MiB) is streamed from memory once per output row. Split
// into slices of columns narrow enough that X's slice stays in the L2 cache
// while all of W streams past it, X is read from memory once.
#ifndef SPRUCE_KERNELS_SRC_COLUMN_BLOCKS_H_
#define SPRUCE_KERNELS_SRC_COLUMN_BLOCKS_H_

#include <algorithm>
#include <cstddef>

namespace spruce::kernels {

// Bytes of X one slice may take: half of the smallest L2 of the CPUs spruce
// targets (1 MiB per core on Skylake-SP, Zen 4/5 and Neoverse N1), leaving
// the rest to W's stream and Y.
inline constexpr size_t kColumnSliceBytes = 512 * 1024;
// Slices are never narrower than this many columns: below it the per-slice
// pass over W's indices costs more than the cache misses it saves.
inline constexpr size_t kMinColumnSlice = 64;

// Columns per slice for an X of `x_rows` rows: a multiple of
// kMinColumnSlice, at least kMinColumnSlice.
inline size_t column_slice(size_t x_rows) {
  const size_t fit = kColumnSliceBytes / (std::max<size_t>(x_rows, 1) * 4);
  return std::max(kMinColumnSlice, fit / kMinColumnSlice * kMinColumnSlice);
}

// Calls f(j0, width) for consecutive column slices covering [0, n); one
// call when n is at most half as wide again as a slice.
template <class F>
void for_column_blocks(size_t x_rows, size_t n, const F& f) {
  const size_t width = column_slice(x_rows);
  if (n <= width + width / 2) return f(size_t{0}, n);
  for (size_t j0 = 0; j0 < n; j0 += width) f(j0, std::min(width, n - j0));
}

}  // namespace spruce::kernels

#endif  // SPRUCE_KERNELS_SRC_COLUMN_BLOCKS_H_
