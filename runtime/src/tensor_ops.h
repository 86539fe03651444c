// The weightless tensor ops of Transformer encoders and ONNX's general
// operators, on row-major float tensors: broadcasting elementwise ops,
// reductions, normalization, softmax, layout changes, embedding lookup and
// the product of two activations.
#ifndef SPRUCE_RUNTIME_TENSOR_OPS_H_
#define SPRUCE_RUNTIME_TENSOR_OPS_H_

#include <array>
#include <cstddef>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>
#include <string>
#include <utility>
#include <vector>

#include "graph.h"
#include "primitive_cache.h"

namespace spruce {

// Row-major element strides of `shape`.
std::vector<size_t> row_major_strides(const Shape& shape);

// `shape` seen around one axis: the product of the dimensions before it,
// its size, and the product of those after it, so that element (o, j, i)
// is at (o·len + j)·inner + i.
struct AxisSplit {
  size_t outer = 1, len = 1, inner = 1;
};
AxisSplit split_at_axis(const Shape& shape, size_t axis);
// Steps `index` to the next element of `shape` in row-major order (back to
// all zeros after the last).
inline void next_index(std::vector<int64_t>* index, const Shape& shape) {
  for (size_t d = shape.size(); d-- > 0;) {
    if (++(*index)[d] < shape[d]) return;
    (*index)[d] = 0;
  }
}

// y (shape ys, row-major) from x (shape xs, same rank): output index i of
// dimension d reads input index source(d, i) there, or gives `fill` if any
// dimension's source is negative (Pad, Tile).
template <typename Source>
void copy_by_dimension(const float* x, const Shape& xs, float* y,
                       const Shape& ys, float fill, Source&& source) {
  const size_t count = element_count(ys);
  if (xs.empty()) {
    if (count == 1) y[0] = x[0];
    return;
  }
  const std::vector<size_t> x_stride = row_major_strides(xs);
  std::vector<int64_t> index(xs.size(), 0);
  for (size_t k = 0; k < count; ++k) {
    size_t from = 0;
    bool filled = false;
    for (size_t d = 0; d < xs.size() && !filled; ++d) {
      const int64_t s = source(d, index[d]);
      filled = s < 0;
      from += static_cast<size_t>(filled ? 0 : s) * x_stride[d];
    }
    y[k] = filled ? fill : x[from];
    next_index(&index, ys);
  }
}

// Element strides of `shape` right-aligned to `rank` dimensions, 0 where the
// dimension is broadcast (size 1 or missing).
std::vector<size_t> broadcast_strides(const Shape& shape, size_t rank);

// y[i] = f(in_0[i_0], ..., in_{N-1}[i_{N-1}]) over the broadcast output
// shape `ys`: the innermost dimension runs as a loop with fixed strides, the
// outer ones are walked with a counter.
template <size_t N, typename F>
void broadcast_map(const std::array<const float*, N>& in,
                   const std::array<const Shape*, N>& shapes, const Shape& ys,
                   float* y, F&& f) {
  const size_t count = element_count(ys);
  const size_t rank = ys.size();
  if (rank == 0) {
    std::array<float, N> v;
    for (size_t k = 0; k < N; ++k) v[k] = in[k][0];
    y[0] = std::apply(f, v);
    return;
  }
  std::array<std::vector<size_t>, N> strides;
  for (size_t k = 0; k < N; ++k)
    strides[k] = broadcast_strides(*shapes[k], rank);
  const auto inner = static_cast<size_t>(ys[rank - 1]);
  std::vector<size_t> index(rank, 0);
  std::array<size_t, N> offset{};
  std::array<size_t, N> step;
  for (size_t k = 0; k < N; ++k) step[k] = strides[k][rank - 1];
  for (size_t base = 0; base < count; base += inner) {
    for (size_t j = 0; j < inner; ++j) {
      std::array<float, N> v;
      for (size_t k = 0; k < N; ++k) v[k] = in[k][offset[k] + j * step[k]];
      y[base + j] = std::apply(f, v);
    }
    for (size_t d = rank - 1; d-- > 0;) {
      ++index[d];
      for (size_t k = 0; k < N; ++k) offset[k] += strides[k][d];
      if (index[d] < static_cast<size_t>(ys[d])) break;
      for (size_t k = 0; k < N; ++k) offset[k] -= strides[k][d] * index[d];
      index[d] = 0;
    }
  }
}

// y = a (op) b, numpy broadcasting to `ys`.
void binary(BinaryOp op, const float* a, const Shape& as, const float* b,
            const Shape& bs, float* y, const Shape& ys);
// y = cond != 0 ? a : b, broadcasting to `ys`.
void where(const float* cond, const Shape& cs, const float* a, const Shape& as,
           const float* b, const Shape& bs, float* y, const Shape& ys);
// y = f(x) over `count` elements with f's parameters a (alpha) and b
// (beta); y may equal x.
void unary(UnaryOp op, float a, float b, const float* x, size_t count,
           float* y);
// The reduction `op` over the (sorted, in-range) `axes` of x; all axes if
// empty.
void reduce(ReduceOp op, const float* x, const Shape& xs,
            const std::vector<int64_t>& axes, float* y);
// Softmax, its log, or Hardmax (1 at the first maximum) along `axis` (or,
// with coerce_2d, over all dimensions from axis).
enum class SoftmaxKind : uint8_t { kSoftmax = 0, kLog = 1, kHardmax = 2 };
void softmax(SoftmaxKind kind, const float* x, const Shape& xs, size_t axis,
             bool coerce_2d, float* y);
// y = x with dimensions permuted: y's dimension d is x's perm[d].
void transpose(const float* x, const Shape& xs,
               const std::vector<int64_t>& perm, float* y);
// One sliced axis of a Slice node, resolved for an input shape.
struct SliceDim {
  int64_t axis = 0;
  int64_t start = 0;
  int64_t step = 1;
  int64_t size = 0;
};
// y = the slices `dims` of x (y has shape ys).
void slice(const float* x, const Shape& xs, const std::vector<SliceDim>& dims,
           float* y, const Shape& ys);
// Copies part k of x along `axis` into outs[k] (parts of sizes `sizes`).
void split(const float* x, const Shape& xs, size_t axis,
           const std::vector<int64_t>& sizes, const std::vector<float*>& outs);
// y[i, :] = table[ids[i], :] for i < count, a negative id counting from the
// end (ONNX); an id that is not an integer in [-rows, rows) throws
// spruce::Error naming `node`.
void gather_rows(const float* table, size_t rows, size_t width,
                 const float* ids, size_t count, float* y,
                 const std::string& node);

// numpy matmul of two activations on oneDNN: batch dimensions broadcast,
// one primitive per pair of input shapes (a few kept).
class MatMulOp {
 public:
  explicit MatMulOp(const dnnl::engine& engine);
  ~MatMulOp();
  void run(const float* a, const Shape& as, const float* b, const Shape& bs,
           float* y, const Shape& ys) const;

 private:
  struct Compiled;
  std::shared_ptr<const Compiled> compile(const Shape& as, const Shape& bs,
                                          const Shape& ys) const;
  dnnl::engine engine_;
  // By input shapes.
  PrimitiveCache<std::pair<Shape, Shape>, Compiled> cache_{8};
};

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_TENSOR_OPS_H_
