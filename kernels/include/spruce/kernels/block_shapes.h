// The BSR block shapes spruce specializes for (block_shapes.inc).
#ifndef SPRUCE_KERNELS_BLOCK_SHAPES_H_
#define SPRUCE_KERNELS_BLOCK_SHAPES_H_

#include <cstddef>

namespace spruce::kernels {

struct BlockShape {
  size_t rows;
  size_t cols;
};

inline constexpr BlockShape kBlockShapes[] = {
#define SPRUCE_BLOCK_SHAPE(rows, cols) {rows, cols},
#include "spruce/kernels/block_shapes.inc"
#undef SPRUCE_BLOCK_SHAPE
};

}  // namespace spruce::kernels

#endif  // SPRUCE_KERNELS_BLOCK_SHAPES_H_
