// The ops without weights: pooling (oneDNN), global average pooling,
// broadcasting Add, Clip. Row-major (NCHW) activations.
#ifndef SPRUCE_RUNTIME_SIMPLE_OPS_H_
#define SPRUCE_RUNTIME_SIMPLE_OPS_H_

#include <memory>
#include <oneapi/dnnl/dnnl.hpp>

#include "graph.h"
#include "primitive_cache.h"

namespace spruce {

// MaxPool / AveragePool: 2-D windows on spruce's Highway kernels
// (kernels/pool.h; oneDNN 2.6 has no JIT pooling for NCHW on AVX2), 3-D
// ones on oneDNN's pooling, one primitive per input shape (a few kept).
class PoolOp {
 public:
  PoolOp(OpKind op, const SpatialParams& params, const dnnl::engine& engine);
  ~PoolOp();
  // x and y stored NCHW or, with `channels_last`, NHWC.
  void run(const float* x, const Shape& x_shape, float* y, bool channels_last,
           int num_threads) const;

 private:
  struct Compiled;
  std::shared_ptr<const Compiled> compile(const Shape& xs,
                                          bool channels_last) const;
  void run_2d(const float* x, const Shape& xs, float* y, bool channels_last,
              int num_threads) const;

  OpKind op_;
  SpatialParams p_;
  dnnl::engine engine_;
  // By input shape and layout.
  PrimitiveCache<std::pair<Shape, bool>, Compiled> cache_{8};
};

// y[n, c] = mean of plane x[n, c, ...], x stored NCHW (any number of
// spatial dimensions) or, with `channels_last`, NHWC (y is [N, C] either
// way). NCHW planes are split over `num_threads`.
void global_average_pool(const float* x, const Shape& x_shape, float* y,
                         bool channels_last, int num_threads);

// y = act(a + b) with numpy broadcasting to `y_shape`.
void add_broadcast(const float* a, const Shape& a_shape, const float* b,
                   const Shape& b_shape, float* y, const Shape& y_shape,
                   kernels::Activation activation);

// y = min(max(x, lo), hi) over `count` elements.
void clip(const float* x, size_t count, float lo, float hi, float* y);

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_SIMPLE_OPS_H_
