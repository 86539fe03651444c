#include "simple_ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "op_params.h"
#include "parallel.h"
#include "spruce/error.h"
#include "spruce/kernels/epilogue.h"
#include "spruce/kernels/pool.h"
#include "spruce/kernels/rows.h"
#include "tensor_ops.h"
#include "workspace.h"

namespace spruce {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

struct PoolOp::Compiled {
  dnnl::pooling_v2_forward primitive;
  dnnl::memory::desc src_desc, dst_desc, scratchpad_desc;
};

PoolOp::PoolOp(OpKind op, const SpatialParams& params,
               const dnnl::engine& engine)
    : op_(op), p_(params), engine_(engine) {}

PoolOp::~PoolOp() = default;

std::shared_ptr<const PoolOp::Compiled> PoolOp::compile(
    const Shape& xs, bool channels_last) const {
  const size_t rank = p_.rank;
  dnnl::memory::dims out = {xs[0], xs[1]};
  for (size_t a = 0; a < rank; ++a) {
    out.push_back(p_.output_size(static_cast<int>(a), xs[2 + a]));
  }
  auto c = std::make_shared<Compiled>();
  const tag layout = rank == 3 ? (channels_last ? tag::ndhwc : tag::ncdhw)
                               : (channels_last ? tag::nhwc : tag::nchw);
  c->src_desc = dnnl::memory::desc(dnnl::memory::dims(xs.begin(), xs.end()),
                                   dt::f32, layout);
  c->dst_desc = dnnl::memory::desc(out, dt::f32, layout);
  // oneDNN wants the right padding that yields exactly the output size;
  // with ceil_mode that is more than ONNX's pads, and those extra cells are
  // outside the input (ignored by max and by the exclude-padding average).
  dnnl::memory::dims strides, kernel, dilation, pad_l, pad_r;
  for (size_t a = 0; a < rank; ++a) {
    const int64_t window = int64_t{p_.dilations[a]} * (p_.kernel[a] - 1) + 1;
    strides.push_back(p_.strides[a]);
    kernel.push_back(p_.kernel[a]);
    dilation.push_back(p_.dilations[a] - 1);
    pad_l.push_back(p_.pads[a]);
    pad_r.push_back(std::max<int64_t>(
        0, (out[2 + a] - 1) * p_.strides[a] + window - xs[2 + a] - p_.pads[a]));
  }
  const dnnl::algorithm alg =
      op_ == OpKind::kMaxPool ? dnnl::algorithm::pooling_max
      : p_.count_include_pad  ? dnnl::algorithm::pooling_avg_include_padding
                              : dnnl::algorithm::pooling_avg_exclude_padding;
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  try {
    const dnnl::pooling_v2_forward::desc desc(
        dnnl::prop_kind::forward_inference, alg, c->src_desc, c->dst_desc,
        strides, kernel, dilation, pad_l, pad_r);
    const dnnl::pooling_v2_forward::primitive_desc pd(desc, attr, engine_);
    c->scratchpad_desc = pd.scratchpad_desc();
    c->primitive = dnnl::pooling_v2_forward(pd);
  } catch (const dnnl::error& e) {
    throw Error(std::string("oneDNN pooling for input ") + to_string(xs) +
                ": " + e.what());
  }
  return c;
}

void PoolOp::run(const float* x, const Shape& xs, float* y, bool channels_last,
                 int num_threads) const {
  if (p_.rank == 2) return run_2d(x, xs, y, channels_last, num_threads);
  const std::shared_ptr<const Compiled> c =
      cache_.get(std::make_pair(xs, channels_last),
                 [&] { return compile(xs, channels_last); });
  dnnl::memory x_mem(c->src_desc, engine_, const_cast<float*>(x));
  dnnl::memory y_mem(c->dst_desc, engine_, y);
  execute_primitive(c->primitive, engine_,
                    {{DNNL_ARG_SRC, x_mem}, {DNNL_ARG_DST, y_mem}},
                    c->scratchpad_desc);
}

void PoolOp::run_2d(const float* x, const Shape& xs, float* y,
                    bool channels_last, int num_threads) const {
  const kernels::WindowShape s = window_of(p_, xs);
  const kernels::PoolKind kind =
      op_ == OpKind::kMaxPool ? kernels::PoolKind::kMax
      : p_.count_include_pad  ? kernels::PoolKind::kAverageIncludePad
                              : kernels::PoolKind::kAverage;
  const auto batch = static_cast<size_t>(xs[0]);
  const size_t parts = chunk_threads(num_threads);
  const size_t work =
      batch * s.channels * s.out_height * s.out_width * s.taps();
  if (!channels_last) {
    // Planes of every image in a row, split over the threads.
    run_chunks(split_evenly(batch * s.channels, parts), work, num_threads,
               [&](size_t first, size_t last) {
                 kernels::pool_nchw(s, kind, x, y, first, last);
               });
    return;
  }
  // Output rows of every image in a row, split over the threads.
  const size_t in_image = s.channels * s.height * s.width;
  const size_t out_image = s.channels * s.out_height * s.out_width;
  run_chunks(
      split_evenly(batch * s.out_height, parts), work, num_threads,
      [&](size_t first, size_t last) {
        for (size_t b = first / s.out_height; b * s.out_height < last; ++b) {
          const size_t r0 = std::max(first, b * s.out_height);
          const size_t r1 = std::min(last, (b + 1) * s.out_height);
          kernels::pool_nhwc(s, kind, x + b * in_image, y + b * out_image,
                             r0 - b * s.out_height, r1 - b * s.out_height);
        }
      });
}

void global_average_pool(const float* x, const Shape& xs, float* y,
                         bool channels_last, int num_threads) {
  const auto planes = static_cast<size_t>(xs[0] * xs[1]);
  size_t size = 1;
  for (size_t d = 2; d < xs.size(); ++d) size *= static_cast<size_t>(xs[d]);
  if (channels_last) {
    // Each image is [H·W, C]: the means of its columns.
    const auto channels = static_cast<size_t>(xs[1]);
    for (int64_t b = 0; b < xs[0]; ++b) {
      const auto image = static_cast<size_t>(b) * size * channels;
      kernels::mean_columns(x + image, size, channels,
                            y + static_cast<size_t>(b) * channels);
    }
    return;
  }
  // Each thread the planes a producer split by channels left in its own
  // cache: one thread reading them all took 2.4x as long on two threads as
  // on one (efficientnet_b0's squeeze-excite pools).
  run_chunks(split_evenly(planes, chunk_threads(num_threads)), planes * size,
             num_threads, [&](size_t p0, size_t p1) {
               kernels::mean_rows(x + p0 * size, p1 - p0, size, y + p0);
             });
}

void add_broadcast(const float* a, const Shape& as, const float* b,
                   const Shape& bs, float* y, const Shape& ys,
                   kernels::Activation activation) {
  binary(BinaryOp::kAdd, a, as, b, bs, y, ys);
  kernels::apply_epilogue(y, 1, element_count(ys), {nullptr, activation});
}

void clip(const float* x, size_t count, float lo, float hi, float* y) {
  for (size_t k = 0; k < count; ++k) y[k] = std::min(std::max(x[k], lo), hi);
}

}  // namespace spruce
