// Conv: sparse direct products or oneDNN convolution, chosen at load.
#include "conv_op.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <unordered_map>

#include "kernel_choice.h"
#include "op_params.h"
#include "parallel.h"
#include "primitive_cache.h"
#include "spruce/error.h"
#include "spruce/kernels/depthwise.h"
#include "spruce/kernels/epilogue.h"
#include "spruce/kernels/transpose.h"
#include "workspace.h"

namespace spruce {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

namespace {

// Seconds per byte of converting a tensor between NCHW and NHWC as it
// happens in a running model: reading what another op wrote and writing a
// buffer nothing touched since the last run, neither in cache by then.
// Timed once per process on a MobileNet-sized tensor (32x112x112) after
// evicting the last-level cache each time: on hot buffers a conversion
// looks about 4x cheaper than it is in a model (0.05 against 0.2-0.27 ms
// here), which would favour kernels that need conversions.
double conversion_seconds_per_byte() {
  static const double rate = [] {
    const size_t channels = 32, pixels = 112 * 112;
    std::vector<float> x(channels * pixels, 1.0f), y(x.size());
    // Twice the last-level cache (as the OS reports it; 32 MB if not, at
    // most 64 MB).
    long cache = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (cache <= 0) cache = 32L << 20;
    std::vector<char> evict(
        std::min(2 * static_cast<size_t>(cache), size_t{64} << 20), 1);
    double best = std::numeric_limits<double>::infinity();
    for (int i = 0; i < 3; ++i) {
      for (size_t k = 0; k < evict.size(); k += 64) ++evict[k];
      const auto start = std::chrono::steady_clock::now();
      kernels::transpose(x.data(), channels, pixels, pixels, y.data(),
                         channels);
      best = std::min(best, std::chrono::duration<double>(
                                std::chrono::steady_clock::now() - start)
                                .count());
    }
    return best / static_cast<double>(x.size() * sizeof(float));
  }();
  return rate;
}

// Output channels [o0, o1) of a product whose channel o's rows start at
// src + o·stride, `pitch` apart, into y [O, Ho, Wo] without their junk
// columns; with a residual (like y, may be y), act(row + r) as they go.
void drop_junk_columns(const float* src, size_t stride, size_t pitch,
                       const float* residual, kernels::Activation act,
                       size_t ho, size_t wo, size_t o0, size_t o1, float* y) {
  const size_t plane = ho * wo;
  for (size_t o = o0; o < o1; ++o) {
    const float* so = src + o * stride;
    if (residual != nullptr) {
      kernels::add_residual(so, pitch, residual + o * plane, ho, wo, act,
                            y + o * plane);
      continue;
    }
    for (size_t r = 0; r < ho; ++r) {
      std::memcpy(y + o * plane + r * wo, so + r * pitch, wo * sizeof(float));
    }
  }
}

// Erases the entries of `map` whose key `keep` rejects.
template <class Map, class Keep>
void erase_unless(Map& map, const Keep& keep) {
  for (auto it = map.begin(); it != map.end();) {
    it = keep(it->first) ? std::next(it) : map.erase(it);
  }
}

}  // namespace

// CSR rows over offsets in the shifted form of kernels/spmm.h: each row's
// non-zeros split by their offset's residue mod 16.
struct ShiftedRows {
  std::vector<uint32_t> row_ptr, cols, shifts;
  std::vector<float> values;
  kernels::ShiftedCsrView view;

  explicit ShiftedRows(const kernels::CsrView& w) {
    constexpr uint32_t kVector = 16;
    const auto* offsets = static_cast<const uint32_t*>(w.col_idx);
    bool used[kVector] = {};
    for (size_t e = 0; e < w.nnz(); ++e) used[offsets[e] % kVector] = true;
    for (uint32_t s = 0; s < kVector; ++s) {
      if (used[s]) shifts.push_back(s);
    }
    if (shifts.empty()) shifts.push_back(0);
    row_ptr.reserve(w.rows * shifts.size() + 1);
    row_ptr.push_back(0);
    cols.reserve(w.nnz());
    values.reserve(w.nnz());
    for (size_t r = 0; r < w.rows; ++r) {
      for (const uint32_t s : shifts) {
        for (uint32_t e = w.row_ptr[r]; e < w.row_ptr[r + 1]; ++e) {
          if (offsets[e] % kVector != s) continue;
          cols.push_back(offsets[e] - s);
          values.push_back(w.values[e]);
        }
        row_ptr.push_back(static_cast<uint32_t>(cols.size()));
      }
    }
    view.csr = w;
    view.csr.rows = w.rows * shifts.size();
    view.csr.row_ptr = row_ptr.data();
    view.csr.col_idx = cols.data();
    view.csr.values = values.data();
    view.csr.index_width = kernels::IndexWidth::k32;
    view.classes = shifts.size();
    view.shifts = shifts.data();
  }
};

// The direct form of any convolution. The zero-padded input is split by
// stride phase: plane (c, a, b) holds padded pixels (u·sh + a, v·sw + b) at
// (u, v), `rows` of them `pitch` apart, so that every tap (i, j) of every
// output pixel (y, x) reads plane ((i·dh) mod sh, (j·dw) mod sw) at
// (y + i·dh div sh, x + j·dw div sw): a stride-1 product over the planes,
// each tap one offset into them, every output row `pitch` wide (stride 1:
// one phase, the padded image itself). Only the phases some tap reads are
// stored. kAligned rounds the pitch up to 16 floats.
struct ConvOp::Geometry {
  int64_t ho = 0, wo = 0;
  size_t rows = 0, pitch = 0;  // of each plane, in pixels
  size_t lanes = 1;            // floats per pixel: images interleaved
  size_t plane_size = 0;       // rows · pitch · lanes floats
  bool copy_in = false;    // the image needs padding, splitting or a tail
  bool copy_out = false;   // rows carry pitch - Wo junk columns, or a tail
  size_t padded_size = 0;  // floats of the planes, with their tail
  // Outputs computed per channel: Ho·pitch, rounded up to a whole number of
  // 16-float vectors where the image is copied, so that no kernel pass is
  // spent on a row's last few columns (a 7×7 layer's 63 took the BSR kernel
  // eight passes); the extra ones read the planes' tail and are dropped
  // with the junk columns.
  size_t n = 0;
  // Phase (a, b) → its plane among each channel's, or -1 if no tap reads it.
  std::vector<int> phase_plane;  // [sh·sw]
  size_t planes = 0;             // per input channel
  std::vector<uint32_t> cols;
  kernels::CsrView view;
  // The CSR product in tiles of `tile` outputs, each a pass per chunk of
  // input channels whose part of the tile's input fits in L1 (the chunk's
  // partial sums added in y): over the whole row at once, every non-zero's
  // load came from L2, at about a third of the FMA rate. Chunk k of the
  // weight is its own CSR over the same offsets (chunk-major copies of
  // cols, which then go, and of values). Empty where one chunk would hold
  // every channel.
  struct Chunk {
    std::vector<uint32_t> row_ptr, cols;
    std::vector<float> values;
    kernels::CsrView view;
    std::unique_ptr<ShiftedRows> shifted;  // kAligned
  };
  std::vector<Chunk> chunks;
  size_t tile = 0;
  std::unique_ptr<ShiftedRows> shifted;  // kAligned, without chunks
  // The BSR weight's block columns as offsets, when it runs.
  std::vector<uint32_t> bsr_cols;
  kernels::BsrView bsr_view;
};

// oneDNN convolution on NCHW or NHWC (channels-last) activations; a primitive
// and the weights in its preferred layout are made once per input shape and
// layout (a few kept). oneDNN's own layout for f32 convolutions on AVX-512
// is NHWC, so channels-last activations run with no reorder at all.
class ConvOp::Dense {
 public:
  // With `residual`, y = act(conv + bias + r): oneDNN's sum post-op adds
  // what y holds when it runs.
  Dense(const dnnl::engine& engine, const float* weight, const float* bias,
        size_t out_channels, size_t in_per_group, const SpatialParams& p,
        kernels::Activation activation, bool residual)
      : engine_(engine),
        weight_(weight),
        bias_(bias),
        out_(static_cast<int64_t>(out_channels)),
        in_per_group_(static_cast<int64_t>(in_per_group)),
        p_(p),
        activation_(activation),
        residual_(residual) {}

  void run(const float* x, const Shape& xs, float* y, bool channels_last,
           const float* residual) const {
    execute(*compiled_for(xs, channels_last), x, y, residual);
  }

 private:
  struct Compiled;

  void execute(const Compiled& c, const float* x, float* y,
               const float* residual) const {
    dnnl::stream stream(engine_);
    // The primitive's own activation layouts (NHWC or blocked) run far
    // faster than NCHW; NCHW activations are reordered in and out.
    dnnl::memory x_user(c.user_src_desc, engine_, const_cast<float*>(x));
    dnnl::memory y_user(c.user_dst_desc, engine_, y);
    dnnl::memory x_mem = x_user, y_mem = y_user;
    if (c.src_desc != c.user_src_desc) {
      x_mem = dnnl::memory(
          c.src_desc, engine_,
          thread_workspace(WorkspaceSlot::kConvInput, c.src_desc.get_size()));
      dnnl::reorder(x_user, x_mem).execute(stream, x_user, x_mem);
    }
    if (c.dst_desc != c.user_dst_desc) {
      y_mem = dnnl::memory(
          c.dst_desc, engine_,
          thread_workspace(WorkspaceSlot::kConvOutput, c.dst_desc.get_size()));
    }
    if (residual_) {
      // The sum post-op's addend goes where the primitive writes.
      if (y_mem != y_user) {
        dnnl::memory r_user(c.user_dst_desc, engine_,
                            const_cast<float*>(residual));
        dnnl::reorder(r_user, y_mem).execute(stream, r_user, y_mem);
      } else if (residual != y) {
        std::memcpy(y, residual, c.user_dst_desc.get_size());
      }
    }
    const size_t scratch_bytes = c.scratchpad_desc.get_size();
    std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_SRC, x_mem},
                                                  {DNNL_ARG_WEIGHTS, c.weights},
                                                  {DNNL_ARG_DST, y_mem}};
    if (bias_ != nullptr) {
      args.emplace(DNNL_ARG_BIAS, dnnl::memory(c.bias_desc, engine_,
                                               const_cast<float*>(bias_)));
    }
    if (scratch_bytes > 0) {
      args.emplace(DNNL_ARG_SCRATCHPAD,
                   dnnl::memory(c.scratchpad_desc, engine_,
                                thread_workspace(WorkspaceSlot::kScratchpad,
                                                 scratch_bytes)));
    }
    c.primitive.execute(stream, args);
    if (c.dst_desc != c.user_dst_desc) {
      dnnl::reorder(y_mem, y_user).execute(stream, y_mem, y_user);
    }
    stream.wait();
  }

  struct Compiled {
    dnnl::convolution_forward primitive;
    dnnl::memory::desc user_src_desc, user_dst_desc;  // NCHW or NHWC
    dnnl::memory::desc src_desc, dst_desc, bias_desc, scratchpad_desc;
    dnnl::memory weights;  // reordered into the primitive's layout
    std::string implementation;  // oneDNN's name for it
  };
  std::shared_ptr<const Compiled> compiled_for(const Shape& xs,
                                               bool channels_last) const {
    return cache_.get(std::make_pair(xs, channels_last),
                      [&] { return compile(xs, channels_last); });
  }

  // The primitive in oneDNN's preferred activation layout, reordered to
  // and from; or, where oneDNN has a JIT kernel for the activations' own
  // layout and it runs faster, in that layout with no reorders. On AVX2
  // oneDNN prefers the blocked nChw8c: the reorders from channels-last and
  // back cost a fifth of a dense MobileNet's run, while ResNet's 3×3
  // layers ran about as fast either way. Timed here, once per input shape
  // (a few calls of each).
  std::shared_ptr<const Compiled> compile(const Shape& xs,
                                          bool channels_last) const {
    std::shared_ptr<const Compiled> own = compile_as(xs, channels_last, false);
    if (own->src_desc == own->user_src_desc &&
        own->dst_desc == own->user_dst_desc) {
      return own;
    }
    std::shared_ptr<const Compiled> as_is;
    try {
      as_is = compile_as(xs, channels_last, true);
    } catch (const Error&) {
      return own;  // no implementation for the activations' own layout
    }
    if (as_is->implementation.rfind("jit", 0) != 0) return own;
    std::vector<float> x(own->user_src_desc.get_size() / sizeof(float), 0.5f);
    std::vector<float> y(own->user_dst_desc.get_size() / sizeof(float));
    auto time = [&](const Compiled& c) {
      return best_time([&] { execute(c, x.data(), y.data(), y.data()); },
                       std::chrono::milliseconds(10), 5);
    };
    return time(*as_is) < time(*own) ? as_is : own;
  }

  std::shared_ptr<Compiled> compile_as(const Shape& xs, bool channels_last,
                                       bool as_is) const {
    const int64_t group = p_.group;
    const int64_t kh = p_.kernel[0], kw = p_.kernel[1];
    const dnnl::memory::dims src_dims = {xs[0], xs[1], xs[2], xs[3]};
    const dnnl::memory::dims dst_dims = {xs[0], out_, p_.output_size(0, xs[2]),
                                         p_.output_size(1, xs[3])};
    const dnnl::memory::dims w_dims =
        group == 1
            ? dnnl::memory::dims{out_, in_per_group_, kh, kw}
            : dnnl::memory::dims{group, out_ / group, in_per_group_, kh, kw};
    const tag w_tag = group == 1 ? tag::oihw : tag::goihw;
    auto c = std::make_shared<Compiled>();
    const tag act_tag = channels_last ? tag::nhwc : tag::nchw;
    c->user_src_desc = dnnl::memory::desc(src_dims, dt::f32, act_tag);
    c->user_dst_desc = dnnl::memory::desc(dst_dims, dt::f32, act_tag);
    const dnnl::memory::desc src_any(src_dims, dt::f32, tag::any);
    const dnnl::memory::desc dst_any(dst_dims, dt::f32, tag::any);
    c->bias_desc = dnnl::memory::desc({out_}, dt::f32, tag::x);
    const dnnl::memory::desc w_any(w_dims, dt::f32, tag::any);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::post_ops post;
    if (residual_) post.append_sum(1.0f);
    if (append_activation(activation_, &post) || residual_) {
      attr.set_post_ops(post);
    }
    try {
      const dnnl::memory::dims strides = {p_.strides[0], p_.strides[1]};
      const dnnl::memory::dims dilates = {p_.dilations[0] - 1,
                                          p_.dilations[1] - 1};
      const dnnl::memory::dims pad_l = {p_.pads[0], p_.pads[1]};
      const dnnl::memory::dims pad_r = {p_.pads[2], p_.pads[3]};
      const dnnl::memory::desc& src = as_is ? c->user_src_desc : src_any;
      const dnnl::memory::desc& dst = as_is ? c->user_dst_desc : dst_any;
      const dnnl::convolution_forward::desc desc =
          bias_ != nullptr
              ? dnnl::convolution_forward::desc(
                    dnnl::prop_kind::forward_inference,
                    dnnl::algorithm::convolution_direct, src, w_any,
                    c->bias_desc, dst, strides, dilates, pad_l, pad_r)
              : dnnl::convolution_forward::desc(
                    dnnl::prop_kind::forward_inference,
                    dnnl::algorithm::convolution_direct, src, w_any, dst,
                    strides, dilates, pad_l, pad_r);
      const dnnl::convolution_forward::primitive_desc pd(desc, attr, engine_);
      c->implementation = pd.impl_info_str();
      c->scratchpad_desc = pd.scratchpad_desc();
      c->src_desc = pd.src_desc();
      c->dst_desc = pd.dst_desc();
      c->primitive = dnnl::convolution_forward(pd);
      const dnnl::memory::desc w_user(w_dims, dt::f32, w_tag);
      dnnl::memory user(w_user, engine_, const_cast<float*>(weight_));
      c->weights = dnnl::memory(pd.weights_desc(), engine_);
      dnnl::stream stream(engine_);
      dnnl::reorder(user, c->weights).execute(stream, user, c->weights);
      stream.wait();
    } catch (const dnnl::error& e) {
      throw Error("oneDNN convolution for input " + to_string(xs) + ": " +
                  e.what());
    }
    return c;
  }

  dnnl::engine engine_;
  const float* weight_;
  const float* bias_;
  int64_t out_;
  int64_t in_per_group_;
  SpatialParams p_;
  kernels::Activation activation_;
  bool residual_;
  // By input shape and layout.
  PrimitiveCache<std::pair<Shape, bool>, Compiled> cache_{8};
};

ConvOp::ConvOp(const WeightDesc& weight, const WeightDesc* bias,
               const SpatialParams& params, kernels::Activation activation,
               bool residual, const Shape& input,
               const LinearPlanOptions& options, const dnnl::engine& engine)
    : p_(params),
      activation_(activation),
      residual_(residual),
      out_channels_(static_cast<size_t>(weight.shape[0])),
      in_per_group_(static_cast<size_t>(weight.shape[1]) /
                    (size_t{params.kernel[0]} * params.kernel[1])),
      bias_(bias != nullptr ? bias->values : nullptr) {
  const bool onednn_allowed =
      (options.allowed & kernel_bit(LinearKernel::kOneDnn)) != 0;
  const bool csr_allowed =
      (options.allowed & kernel_bit(LinearKernel::kCsr)) != 0;
  const bool bsr_allowed =
      (options.allowed & kernel_bit(LinearKernel::kBsr)) != 0;
  if (!options.force_dense && (csr_allowed || bsr_allowed) &&
      weight.layout != WeightLayout::kDense) {
    if (weight.layout == WeightLayout::kCsr) {
      csr_ = weight.csr;
    } else {
      const std::vector<float> dense = to_dense(weight.bsr);
      derived_csr_ = CsrMatrix::from_dense(
          dense.data(), out_channels_, static_cast<size_t>(weight.shape[1]));
      csr_ = derived_csr_.view();
    }
    has_csr_ = true;
    if (bsr_allowed && weight.layout == WeightLayout::kBsr &&
        weight.bsr.block_cols == 1 && p_.group == 1) {
      has_bsr_ = true;
      bsr_ = weight.bsr;
      bsr_chunks_ =
          split_by_work(bsr_.row_ptr, bsr_.row_blocks(),
                        static_cast<size_t>(std::max(1, options.max_threads)));
    }
    chunks_ =
        split_by_work(csr_.row_ptr, out_channels_,
                      static_cast<size_t>(std::max(1, options.max_threads)));
  }
  const float* w = weight.values;
  if (weight.layout != WeightLayout::kDense) {
    densified_ = weight.to_dense();
    w = densified_.data();
  }
  dense_ = std::make_unique<Dense>(engine, w, bias_, out_channels_,
                                   in_per_group_, p_, activation_, residual_);
  const bool depthwise = p_.group > 1 && in_per_group_ == 1 &&
               (options.allowed & kernel_bit(LinearKernel::kDepthwise)) != 0;
  if (depthwise) {
    depthwise_weight_ = w;
    if (out_channels_ == p_.group) {
      depthwise_packed_ = kernels::pack_depthwise_nhwc(depthwise_shape({}), w);
    }
  }
  const bool known =
      input.size() == 4 && input[1] > 0 && input[2] > 0 && input[3] > 0;
  // The sparse kernels that may run, the BSR one preferred untimed; the
  // dense ones, spruce's depthwise kernel preferred untimed.
  std::vector<Candidate<LinearKernel>> sparse, candidates;
  if (has_csr_ && csr_allowed) sparse.push_back({LinearKernel::kCsr, false});
  if (has_bsr_) sparse.push_back({LinearKernel::kBsr, false});
  if (onednn_allowed) candidates.push_back({LinearKernel::kOneDnn, true});
  if (depthwise) candidates.push_back({LinearKernel::kDepthwise, true});
  const bool has_dense = !candidates.empty();
  const LinearKernel preferred_dense =
      has_dense ? candidates.back().kernel : LinearKernel::kOneDnn;
  candidates.insert(candidates.end(), sparse.begin(), sparse.end());
  if (sparse.empty()) {
    // The depthwise kernel alone is timed too: its NCHW method is chosen
    // in measure().
    if ((candidates.size() > 1 || depthwise) && options.measure && known) {
      measure(candidates, input, options.max_threads);
    } else {
      choice_.fix(preferred_dense);
    }
  } else if (options.measure && known) {
    // Dense or not: the sparse kernels' layouts are timed too.
    measure(candidates, input, options.max_threads);
  } else if (!has_dense) {
    choice_.fix(sparse.back().kernel);
  } else if (weight.sparsity() >= options.min_sparsity) {
    choice_.fix(sparse.back().kernel);
  } else {
    choice_.fix(preferred_dense);
  }
  if (!undecided_) release_unused();
}

void ConvOp::release_unused() {
  if (kernel() != LinearKernel::kBsr) has_bsr_ = false;
  if (is_dense(kernel())) {
    has_csr_ = false;
    derived_csr_ = CsrMatrix();
    geometries_.clear();
  }
  if (kernel() != LinearKernel::kOneDnn) dense_.reset();
  if (kernel() != LinearKernel::kDepthwise) {
    depthwise_weight_ = nullptr;
    std::vector<float>().swap(depthwise_packed_);
  }
  if (!is_dense(kernel())) std::vector<float>().swap(densified_);
}

void ConvOp::measure(const std::vector<Candidate<LinearKernel>>& candidates,
                     const Shape& input, int num_threads) {
  // One choice for every batch: each image is its own product (groups of
  // images run as one are timed on their own, prepare_batches(), and do
  // not change which kernel runs).
  const Shape one = {1, input[1], input[2], input[3]};
  for (const Candidate<LinearKernel>& c : candidates) {
    // oneDNN's runs channels-last, the sparse ones NCHW, the depthwise one
    // either (NCHW only with a channel multiplier).
    for (const bool cl : {true, false}) {
      const bool runs = c.kernel == LinearKernel::kOneDnn ? cl
                        : c.kernel == LinearKernel::kDepthwise
                            ? !cl || !depthwise_packed_.empty()
                            : !cl;
      if (!runs) continue;
      // Each of a kernel's ways to run set in `*way` and timed, the
      // fastest kept.
      auto fastest_way = [&](auto* way, const auto& ways) {
        double best = std::numeric_limits<double>::infinity();
        auto fastest = ways.front();
        for (const auto m : ways) {
          *way = m;
          const double t = time_kernel(c.kernel, one, cl, num_threads);
          if (t < best) {
            best = t;
            fastest = m;
          }
        }
        *way = fastest;
        return best;
      };
      if (c.kernel == LinearKernel::kCsr || c.kernel == LinearKernel::kBsr) {
        // The sparse kernels: each layout of their planes.
        SparsePlanes* layout =
            c.kernel == LinearKernel::kCsr ? &csr_planes_ : &bsr_planes_;
        times_[{c.kernel, cl}] = fastest_way(layout, sparse_layouts(c.kernel));
      } else if (c.kernel != LinearKernel::kDepthwise || cl) {
        times_[{c.kernel, cl}] = time_kernel(c.kernel, one, cl, num_threads);
      } else {
        // NCHW depthwise: each method that applies (depthwise.h).
        using kernels::DepthwiseNchw;
        std::vector<DepthwiseNchw> methods = {DepthwiseNchw::kColumns};
        if (!depthwise_packed_.empty()) {
          methods.push_back(DepthwiseNchw::kChannelBlocks);
        }
        if (kernels::depthwise_direct_applies(depthwise_shape(one))) {
          methods.push_back(DepthwiseNchw::kDirect);
        }
        times_[{c.kernel, cl}] = fastest_way(&depthwise_nchw_, methods);
      }
    }
  }
  {
    // Only the geometries of the layouts that won stay.
    std::lock_guard<std::mutex> lock(mutex_);
    erase_unless(geometries_, [&](const auto& key) {
      const SparsePlanes layout = std::get<2>(key);
      return layout == csr_planes_ || layout == bsr_planes_;
    });
  }
  const double per_byte = conversion_seconds_per_byte();
  convert_in_ =
      per_byte * static_cast<double>(element_count(one)) * sizeof(float);
  convert_out_ =
      per_byte *
      static_cast<double>(out_channels_ *
                          static_cast<size_t>(p_.output_size(0, input[2]) *
                                              p_.output_size(1, input[3]))) *
      sizeof(float);
  candidates_ = candidates;
  choice_ = fastest(true, true, 1.0, &runs_channels_last_);
  if (kernel() != LinearKernel::kDepthwise) {
    runs_channels_last_ = kernel() == LinearKernel::kOneDnn;
  }
  timed_input_ = input;
  timed_threads_ = num_threads;
  undecided_ = true;
}

KernelChoice<LinearKernel> ConvOp::fastest(bool in_cl, bool out_cl,
                                           double conversion_scale,
                                           bool* depthwise_cl) const {
  KernelChoice<LinearKernel> choice;
  // Each kernel in the layout (of those it runs in) that is fastest with
  // the conversions it needs.
  choice.choose(candidates_, {1}, [&](LinearKernel k, size_t) {
    double best = std::numeric_limits<double>::infinity();
    for (const bool cl : {true, false}) {
      const auto it = times_.find({k, cl});
      if (it == times_.end()) continue;
      const double t =
          it->second + conversion_scale * ((cl != in_cl ? convert_in_ : 0.0) +
                                           (cl != out_cl ? convert_out_ : 0.0));
      if (t < best) {
        best = t;
        if (k == LinearKernel::kDepthwise) *depthwise_cl = cl;
      }
    }
    return best;
  });
  return choice;
}

void ConvOp::settle(bool input_channels_last,
                    std::optional<bool> output_channels_last,
                    double conversion_scale) {
  if (undecided_) {
    choice_ = fastest(input_channels_last,
                      output_channels_last.value_or(input_channels_last),
                      conversion_scale, &runs_channels_last_);
    settled_ = true;
  } else if (kernel() == LinearKernel::kDepthwise) {
    // Untimed: in its input's layout.
    runs_channels_last_ = input_channels_last && !depthwise_packed_.empty();
  }
  if (kernel() != LinearKernel::kDepthwise) {
    runs_channels_last_ = kernel() == LinearKernel::kOneDnn;
  }
}

void ConvOp::finish() {
  if (!undecided_) return;
  undecided_ = settled_ = false;
  release_unused();
}

std::optional<bool> ConvOp::wants_channels_last() const {
  if (!undecided_ || settled_) {
    if (kernel() == LinearKernel::kDepthwise) return std::nullopt;
    return kernel() == LinearKernel::kOneDnn;
  }
  // The same kernel whatever the input's layout: its own layout.
  bool unused;
  const LinearKernel a =
      fastest(true, true, 1.0, &unused).ranges().front().kernel;
  const LinearKernel b =
      fastest(false, false, 1.0, &unused).ranges().front().kernel;
  if (a != b || a == LinearKernel::kDepthwise) return std::nullopt;
  return a == LinearKernel::kOneDnn;
}

void ConvOp::use_sparse_planes(SparsePlanes layout) {
  std::lock_guard<std::mutex> lock(mutex_);
  csr_groups_.clear();
  if (layout == SparsePlanes::kImages) {
    csr_groups_.assign(std::begin(kImageGroups), std::end(kImageGroups));
  } else {
    csr_planes_ = layout;
  }
}

void ConvOp::prepare_batches(int64_t images) {
  // Only where load times the kernels, the sparse one runs, and batches
  // may hold a group.
  if (timed_input_.empty() || kernel() != LinearKernel::kCsr ||
      (images >= 0 &&
       static_cast<size_t>(images) < *std::rbegin(kImageGroups))) {
    return;
  }
  time_image_groups(timed_input_, timed_threads_);
  // Only the geometries of the groups that won stay.
  std::lock_guard<std::mutex> lock(mutex_);
  erase_unless(geometries_, [&](const auto& key) {
    return std::get<2>(key) != SparsePlanes::kImages ||
           std::count(csr_groups_.begin(), csr_groups_.end(),
                      std::get<3>(key)) > 0;
  });
}

void ConvOp::time_image_groups(const Shape& input, int num_threads) {
  // Where the output planes are small (up to 10x10): 7x7 ones measured
  // 1.2-1.5x faster interleaved, 14x14 ones 0.9-1.0x and 28x28 0.84x, and
  // a group costs sixteen images' time to measure at load.
  constexpr int64_t kMaxPixels = 10 * 10;
  csr_groups_.clear();
  const int64_t pixels =
      p_.output_size(0, input[2]) * p_.output_size(1, input[3]);
  if (pixels > kMaxPixels) return;
  // Each size on a batch of the largest, against it image by image.
  const Shape batch = {static_cast<int64_t>(kImageGroups[0]), input[1],
                       input[2], input[3]};
  const double apart =
      time_kernel(LinearKernel::kCsr, batch, false, num_threads);
  std::vector<size_t> faster;
  for (const size_t group : kImageGroups) {
    csr_groups_ = {group};
    if (time_kernel(LinearKernel::kCsr, batch, false, num_threads) < apart) {
      faster.push_back(group);
    }
  }
  csr_groups_ = faster;
}

std::vector<ConvOp::SparsePlanes> ConvOp::sparse_layouts(
    LinearKernel kernel) const {
  // kPhases reads an unpadded stride-1 input one tap wide in place; copying
  // it measured slower (see geometry_for). The shifted form is the CSR
  // kernel's.
  const bool padded = p_.pads[0] + p_.pads[1] + p_.pads[2] + p_.pads[3] > 0;
  const bool in_place =
      !padded && p_.kernel[1] == 1 && p_.strides[0] == 1 && p_.strides[1] == 1;
  if (in_place || kernel != LinearKernel::kCsr) return {SparsePlanes::kPhases};
  return {SparsePlanes::kPhases, SparsePlanes::kAligned};
}

kernels::DepthwiseShape ConvOp::depthwise_shape(const Shape& xs) const {
  kernels::DepthwiseShape s;
  static_cast<kernels::WindowShape&>(s) = window_of(p_, xs);
  s.channels = static_cast<size_t>(p_.group);
  s.multiplier = out_channels_ / p_.group;
  return s;
}

ConvOp::~ConvOp() = default;

size_t ConvOp::dense_macs(const Shape& xs) const {
  const auto ho = static_cast<size_t>(p_.output_size(0, xs[2]));
  const auto wo = static_cast<size_t>(p_.output_size(1, xs[3]));
  return out_channels_ * in_per_group_ * p_.kernel[0] * p_.kernel[1] * ho * wo;
}

size_t ConvOp::multiply_adds(const Shape& xs) const {
  const auto images = static_cast<size_t>(xs[0]);
  if (is_dense(kernel())) return dense_macs(xs) * images;
  const auto pixels =
      static_cast<size_t>(p_.output_size(0, xs[2]) * p_.output_size(1, xs[3]));
  const size_t values = kernel() == LinearKernel::kBsr
                            ? bsr_.nnz_blocks() * bsr_.block_rows
                            : csr_.nnz();
  return values * pixels * images;
}

double ConvOp::time_kernel(LinearKernel kernel, const Shape& xs,
                           bool channels_last, int num_threads) const {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(element_count(xs));
  for (float& v : x) v = u(rng);
  const auto pixels =
      static_cast<size_t>(p_.output_size(0, xs[2]) * p_.output_size(1, xs[3]));
  std::vector<float> y(static_cast<size_t>(xs[0]) * out_channels_ * pixels);
  // A residual in place, as the memory plan mostly has it.
  const float* residual = residual_ ? y.data() : nullptr;
  return best_time(
      [&] {
        if (kernel == LinearKernel::kOneDnn) {
          dense_->run(x.data(), xs, y.data(), channels_last, residual);
        } else if (kernel == LinearKernel::kDepthwise) {
          run_depthwise(x.data(), xs, y.data(), residual, channels_last,
                        num_threads);
        } else {
          run_sparse(kernel, x.data(), xs, y.data(), residual, num_threads);
        }
      },
      std::chrono::milliseconds(5), 20);
}

void ConvOp::run(const float* x, const Shape& xs, float* y, bool channels_last,
                 int num_threads, const float* residual) const {
  if (residual_ != (residual != nullptr)) {
    throw Error(residual_ ? "internal: a residual convolution without one"
                          : "internal: a residual for a convolution without");
  }
  if (kernel() == LinearKernel::kOneDnn) {
    dense_->run(x, xs, y, channels_last, residual);
    const size_t count = static_cast<size_t>(xs[0]) * out_channels_ *
                         static_cast<size_t>(p_.output_size(0, xs[2]) *
                                             p_.output_size(1, xs[3]));
    apply_activation_after_onednn(activation_, y, count, num_threads);
    return;
  }
  if (kernel() == LinearKernel::kDepthwise) {
    run_depthwise(x, xs, y, residual, channels_last, num_threads);
    return;
  }
  if (channels_last) {
    throw Error("internal: the sparse convolution reads NCHW activations");
  }
  run_sparse(kernel(), x, xs, y, residual, num_threads);
}

void ConvOp::run_depthwise(const float* x, const Shape& xs, float* y,
                           const float* residual, bool channels_last,
                           int num_threads) const {
  if (channels_last && depthwise_packed_.empty()) {
    throw Error("internal: a depthwise multiplier above 1 runs NCHW only");
  }
  const kernels::DepthwiseShape s = depthwise_shape(xs);
  const auto batch = static_cast<size_t>(xs[0]);
  const size_t image = s.channels * s.height * s.width;
  const size_t out_image = s.out_channels() * s.out_height * s.out_width;
  // Threads split images × output channels (NCHW) or × output rows (NHWC).
  const size_t parts = channels_last ? s.out_height : s.out_channels();
  const size_t items = batch * parts;
  // One part per thread: OpenMP's, or the worker pool's.
  const std::vector<size_t> bounds =
      split_evenly(items, chunk_threads(num_threads));
  // With a residual (which y may be), the product goes to a buffer first
  // and the activation comes after the Add.
  float* out = y;
  if (residual != nullptr) {
    out = thread_workspace_as<float>(WorkspaceSlot::kConvOutput,
                                     batch * out_image);
  }
  const kernels::Epilogue epilogue{
      bias_, residual != nullptr ? kernels::Activation::kNone : activation_};
  run_chunks(
      bounds, batch * out_image * s.taps(), num_threads,
      [&](size_t begin, size_t end) {
        for (size_t b = begin / parts; b < batch && b * parts < end; ++b) {
          const size_t first = std::max(begin, b * parts) - b * parts;
          const size_t last = std::min(end, (b + 1) * parts) - b * parts;
          if (channels_last) {
            kernels::depthwise_conv_nhwc(s, x + b * image,
                                         depthwise_packed_.data(), epilogue,
                                         out + b * out_image, first, last);
          } else {
            kernels::depthwise_conv_nchw(s, x + b * image, depthwise_weight_,
                                         epilogue, out + b * out_image, first,
                                         last, depthwise_nchw_);
          }
        }
      });
  if (residual != nullptr) {
    const size_t count = batch * out_image;
    run_chunks(split_evenly(count, chunk_threads(num_threads)), count,
               num_threads, [&](size_t begin, size_t end) {
                 kernels::add_residual(out + begin, 0, residual + begin, 1,
                                       end - begin, activation_, y + begin);
               });
  }
}

std::shared_ptr<const ConvOp::Geometry> ConvOp::geometry_for(
    int64_t h, int64_t w, SparsePlanes layout, size_t group) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto key = std::make_tuple(h, w, layout, group);
  const auto it = geometries_.find(key);
  if (it != geometries_.end()) return it->second;
  auto g = std::make_shared<Geometry>();
  const bool aligned = layout == SparsePlanes::kAligned;
  g->lanes = layout == SparsePlanes::kImages ? group : 1;
  const size_t lanes = g->lanes;
  const int64_t kh = p_.kernel[0], kw = p_.kernel[1];
  const int64_t sh = p_.strides[0], sw = p_.strides[1];
  const int64_t dh = p_.dilations[0], dw = p_.dilations[1];
  const int64_t channels = static_cast<int64_t>(in_per_group_) * p_.group;
  g->ho = p_.output_size(0, h);
  g->wo = p_.output_size(1, w);
  const bool padded = p_.pads[0] + p_.pads[1] + p_.pads[2] + p_.pads[3] > 0;
  constexpr size_t kVector = 16;  // floats in a 64-byte cache line
  auto round_up = [](size_t v, size_t m) { return (v + m - 1) / m * m; };
  const int64_t hp = h + p_.pads[0] + p_.pads[2];
  const int64_t wp = w + p_.pads[1] + p_.pads[3];
  g->rows = static_cast<size_t>((hp + sh - 1) / sh);
  g->pitch = static_cast<size_t>((wp + sw - 1) / sw);
  // Stride 1: a row's right padding can be the next row's left padding
  // (reads past a row's end land on zeros), so W + max(left, right) pixels
  // apart do; aligned, then up to a divisor or multiple of 16: a 7×7
  // plane's rows 8 apart, two to a vector, not 16 with 9 junk columns each.
  if ((aligned || lanes > 1) && sw == 1) {
    g->pitch =
        std::max(static_cast<size_t>(w + std::max(p_.pads[1], p_.pads[3])),
                 static_cast<size_t>(g->wo));
  }
  if (aligned) {
    size_t divisor = 1;
    while (divisor < g->pitch && divisor < kVector) divisor *= 2;
    g->pitch = g->pitch <= kVector ? divisor : round_up(g->pitch, kVector);
  }
  g->plane_size = g->rows * g->pitch * lanes;
  // Outputs per channel, in floats: each pixel's `lanes`.
  const size_t outputs = static_cast<size_t>(g->ho) * g->pitch * lanes;
  g->copy_in = aligned || lanes > 1 || padded || kw > 1 || sh > 1 || sw > 1;
  // Only where the image is copied anyway: a 1×1 stride-1 convolution
  // reads its input in place, and copying it for the rounding measured
  // 1.9-2.8x slower (1280x320x7k1s1).
  g->n = g->copy_in ? round_up(outputs, kVector) : outputs;
  g->copy_out =
      lanes > 1 || g->pitch != static_cast<size_t>(g->wo) || g->n != outputs;
  g->phase_plane.assign(static_cast<size_t>(sh * sw), -1);
  for (int64_t i = 0; i < kh; ++i) {
    for (int64_t j = 0; j < kw; ++j) {
      int& plane =
          g->phase_plane[static_cast<size_t>(i * dh % sh * sw + j * dw % sw)];
      if (plane < 0) plane = static_cast<int>(g->planes++);
    }
  }
  // Reads reach (kw - 1)·dw div sw past the last plane's last row, and the
  // rounding of n past that; the shifted kernel's one more vector past it.
  const size_t col_reach = static_cast<size_t>((kw - 1) * dw / sw) * lanes;
  const double size = static_cast<double>(channels) *
                          static_cast<double>(g->planes * g->plane_size) +
                      static_cast<double>(col_reach) +
                      static_cast<double>(g->n - outputs) +
                      (aligned ? static_cast<double>(kVector) : 0.0);
  if (size >= static_cast<double>(size_t{1} << 32)) {
    throw Error("convolution input [" + std::to_string(channels) + ", " +
                std::to_string(h) + ", " + std::to_string(w) +
                "] is too large for the sparse kernel's 32-bit offsets");
  }
  g->padded_size = static_cast<size_t>(size);
  const size_t per_group_out = out_channels_ / p_.group;
  const size_t window = static_cast<size_t>(kh * kw);
  // Weight column (c, i, j) of the whole input, c·kh·kw + i·kw + j: the
  // offset of its first pixel in the planes.
  auto offset_of = [&](size_t col) {
    const auto i = static_cast<int64_t>(col % window) / kw * dh;
    const auto j = static_cast<int64_t>(col % window) % kw * dw;
    const auto plane = static_cast<size_t>(
        g->phase_plane[static_cast<size_t>(i % sh * sw + j % sw)]);
    return (col / window * g->planes + plane) * g->plane_size +
           (static_cast<size_t>(i / sh) * g->pitch +
            static_cast<size_t>(j / sw)) *
               lanes;
  };
  g->cols.resize(csr_.nnz());
  for (size_t r = 0; r < out_channels_; ++r) {
    const size_t base = r / per_group_out * in_per_group_;
    for (uint32_t e = csr_.row_ptr[r]; e < csr_.row_ptr[r + 1]; ++e) {
      g->cols[e] =
          static_cast<uint32_t>(offset_of(base * window + csr_.col(e)));
    }
  }
  g->view = csr_;
  g->view.col_idx = g->cols.data();
  g->view.index_width = kernels::IndexWidth::k32;
  g->view.cols = g->padded_size;
  split_channels(
      static_cast<size_t>(channels),
      static_cast<size_t>((kh - 1) * dh / sh) * g->pitch * lanes + col_reach,
      g.get());
  if (aligned) {
    for (Geometry::Chunk& c : g->chunks) {
      c.shifted = std::make_unique<ShiftedRows>(c.view);
      std::vector<uint32_t>().swap(c.cols);
      std::vector<float>().swap(c.values);
    }
    if (g->chunks.empty()) {
      g->shifted = std::make_unique<ShiftedRows>(g->view);
      std::vector<uint32_t>().swap(g->cols);
      g->view.col_idx = nullptr;
    }
  }
  if (has_bsr_ && lanes == 1) {
    // Ungrouped: block column c·kh·kw + i·kw + j, offset as for CSR.
    g->bsr_cols.resize(bsr_.nnz_blocks());
    for (size_t e = 0; e < g->bsr_cols.size(); ++e) {
      g->bsr_cols[e] = static_cast<uint32_t>(offset_of(bsr_.block_col(e)));
    }
    g->bsr_view = bsr_;
    g->bsr_view.col_idx = g->bsr_cols.data();
    g->bsr_view.index_width = kernels::IndexWidth::k32;
    g->bsr_view.cols = g->padded_size;
  }
  constexpr size_t kMaxGeometries = 8;
  if (geometries_.size() >= kMaxGeometries)
    geometries_.erase(geometries_.begin());
  return geometries_.emplace(key, std::move(g)).first->second;
}

void ConvOp::split_channels(size_t channels, size_t reach, Geometry* g) const {
  // A tile's input per channel: its outputs and the window's reach past
  // them, in each of the channel's planes. Chunks of at least 16 non-zeros
  // per row on average: shorter ones cost more in per-row passes than
  // their misses (a 1×1 layer's rows measured up to 3x slower split).
  constexpr size_t kL1Bytes = 32 * 1024;
  constexpr double kMinRowNonZeros = 16;
  const size_t nnz = csr_.nnz();
  if (nnz == 0 || channels < 2) return;
  const double row_nnz =
      static_cast<double>(nnz) / static_cast<double>(out_channels_);
  const auto fewest = static_cast<size_t>(
      std::ceil(kMinRowNonZeros * static_cast<double>(channels) / row_nnz));
  constexpr size_t kTile = 256;
  // A plane smaller than a tile (7×7: 64 outputs) is all one tile.
  const size_t per_channel =
      g->planes * (std::min(kTile, g->n) + reach) * sizeof(float);
  const size_t widest = std::max({size_t{1}, kL1Bytes / per_channel, fewest});
  if (widest >= channels) {
    // One chunk: still tile by tile where the whole input outgrows L1 (a
    // 7x7 stem's 3 channels are 160 KB of planes, read once per output
    // channel from L2 over the whole row).
    if (g->n > 2 * kTile &&
        channels * g->planes * g->plane_size * sizeof(float) > kL1Bytes) {
      g->tile = kTile;
    }
    return;
  }
  // As many chunks as that takes, of equal size (64 channels in chunks of
  // 21 left one of a single channel: a pass over every row for it).
  const size_t count = (channels + widest - 1) / widest;
  const size_t chunk = (channels + count - 1) / count;
  const size_t span = chunk * g->planes * g->plane_size;  // per chunk
  g->tile = kTile;
  g->chunks.resize(count);
  for (Geometry::Chunk& c : g->chunks) {
    c.row_ptr.assign(1, 0);
    c.row_ptr.reserve(out_channels_ + 1);
  }
  for (size_t r = 0; r < out_channels_; ++r) {
    // A row's offsets ascend with its columns (channel-major), so each
    // chunk's part of it is a contiguous run.
    for (uint32_t e = csr_.row_ptr[r]; e < csr_.row_ptr[r + 1]; ++e) {
      Geometry::Chunk& c = g->chunks[std::min(count - 1, g->cols[e] / span)];
      c.cols.push_back(g->cols[e]);
      c.values.push_back(csr_.values[e]);
    }
    for (Geometry::Chunk& c : g->chunks) {
      c.row_ptr.push_back(static_cast<uint32_t>(c.cols.size()));
    }
  }
  for (Geometry::Chunk& c : g->chunks) {
    c.view = g->view;
    c.view.row_ptr = c.row_ptr.data();
    c.view.col_idx = c.cols.data();
    c.view.values = c.values.data();
  }
  // The chunks replace the whole-row offsets: only they run.
  std::vector<uint32_t>().swap(g->cols);
  g->view.col_idx = nullptr;
}

void ConvOp::run_sparse(LinearKernel kernel, const float* x, const Shape& xs,
                        float* y, const float* residual,
                        int num_threads) const {
  const auto batch = static_cast<size_t>(xs[0]);
  size_t first = 0;
  if (kernel == LinearKernel::kCsr) {
    for (const size_t group : csr_groups_) {
      const size_t count = (batch - first) / group * group;
      if (count == 0) continue;
      run_image_groups(x, xs, y, residual, first, count, group, num_threads);
      first += count;
    }
  }
  const size_t rest = batch - first;
  // With at least an image per thread, each thread takes whole images: it
  // reads its own image (and padded copy) from its own cache instead of
  // every thread sweeping one shared image for its share of the channels
  // (measured slower than one thread at batch 16 on ResNet's first stage).
  if (num_threads > 1 && rest >= static_cast<size_t>(num_threads)) {
    run_chunks(split_evenly(rest, static_cast<size_t>(num_threads)),
               multiply_adds(xs), num_threads, [&](size_t b0, size_t b1) {
                 const ScopedPoolThreads serial(1);  // nothing nested
                 run_images(kernel, x, xs, y, residual, first + b0, first + b1,
                            1);
               });
    return;
  }
  if (rest > 0) {
    run_images(kernel, x, xs, y, residual, first, batch, num_threads);
  }
}

void ConvOp::multiply(const Geometry& g, bool bsr, const float* x, float* y,
                      const kernels::Epilogue& epilogue, size_t begin,
                      size_t end, size_t p0, size_t width) const {
  const size_t n = g.n;
  if (bsr) {
    kernels::spmm_bsr_strided(g.bsr_view, x + p0, 1, width, y + p0, n, epilogue,
                              begin, end);
    return;
  }
  // One CSR product over columns [t0, t0 + tw): the whole weight's (g) or a
  // channel chunk's, each with its shifted form where the planes are aligned.
  auto product = [&](const auto& part, const kernels::Epilogue& e, size_t t0,
                     size_t tw) {
    if (part.shifted != nullptr) {
      kernels::spmm_csr_shifted(part.shifted->view, x + t0, tw, y + t0, n, e,
                                begin, end);
    } else {
      kernels::spmm_csr_strided(part.view, x + t0, 1, tw, y + t0, n, e, begin,
                                end);
    }
  };
  // Tile by tile where set, else the whole width at once; chunk by chunk
  // within a tile: the bias with the first chunk, the activation with the
  // last.
  const size_t tile = g.tile != 0 ? g.tile : width;
  for (size_t t0 = p0; t0 < p0 + width; t0 += tile) {
    const size_t tw = std::min(tile, p0 + width - t0);
    if (g.chunks.empty()) {
      product(g, epilogue, t0, tw);
      continue;
    }
    const size_t final_chunk = g.chunks.size() - 1;
    for (size_t k = 0; k <= final_chunk; ++k) {
      const kernels::Epilogue part{
          k == 0 ? epilogue.bias : nullptr,
          k == final_chunk ? epilogue.activation : kernels::Activation::kNone,
          k > 0 || epilogue.accumulate};
      product(g.chunks[k], part, t0, tw);
    }
  }
}

void ConvOp::run_image_groups(const float* x, const Shape& xs, float* y,
                              const float* residual, size_t first, size_t count,
                              size_t group, int num_threads) const {
  const auto channels = static_cast<size_t>(xs[1]);
  const int64_t h = xs[2], w = xs[3];
  const size_t image = channels * static_cast<size_t>(h * w);
  const std::shared_ptr<const Geometry> g =
      geometry_for(h, w, SparsePlanes::kImages, group);
  const auto ho = static_cast<size_t>(g->ho), wo = static_cast<size_t>(g->wo);
  const size_t plane = ho * wo;
  const size_t out_image = out_channels_ * plane;
  const size_t lanes = g->lanes;  // = group
  // Rows always carry junk (the lanes at least): a residual is added, and
  // the activation applied, as they are dropped.
  const kernels::Epilogue epilogue{
      bias_, residual != nullptr ? kernels::Activation::kNone : activation_,
      false};
  float* planes =
      thread_workspace_as<float>(WorkspaceSlot::kConvInput, g->padded_size);
  const size_t filled = channels * g->planes * g->plane_size;
  std::memset(planes + filled, 0, (g->padded_size - filled) * sizeof(float));
  const size_t n = g->n;
  float* wide =
      thread_workspace_as<float>(WorkspaceSlot::kConvOutput, out_channels_ * n);
  // The group interleaved before padding, then its output split again.
  float* flat = thread_workspace_as<float>(
      WorkspaceSlot::kConvImages,
      std::max(image, out_channels_ * n / lanes) * lanes);
  const size_t parts = chunk_threads(num_threads);
  // A 1x1 stride-1 unpadded window's planes are the interleaved images as
  // they are, and its output rows carry no junk columns: the transposes
  // write straight into the planes and into y.
  const bool same_planes = g->planes == 1 &&
                           g->rows == static_cast<size_t>(h) &&
                           g->pitch == static_cast<size_t>(w);
  const bool whole_rows = g->pitch == wo && n == ho * wo * lanes;
  const size_t per_image = out_channels_ * n / lanes;  // outputs with junk
  for (size_t b = first; b < first + count; b += group) {
    if (same_planes) {
      kernels::transpose(x + b * image, lanes, image, image, planes, lanes);
    } else {
      kernels::transpose(x + b * image, lanes, image, image, flat, lanes);
      run_chunks(split_evenly(channels, parts), image * lanes, num_threads,
                 [&](size_t c0, size_t c1) {
                   fill_planes(*g, flat, c0, c1, h, w, planes);
                 });
    }
    run_chunks(chunks_, csr_.nnz() * n, num_threads,
               [&](size_t begin, size_t end) {
                 multiply(*g, false, planes, wide, epilogue, begin, end, 0, n);
               });
    // Image-major again: [group, O·n/group], each channel's rows pitch
    // apart.
    float* yb = y + b * out_image;
    if (whole_rows && residual == nullptr) {
      kernels::transpose(wide, per_image, lanes, lanes, yb, out_image);
      continue;
    }
    kernels::transpose(wide, per_image, lanes, lanes, flat, per_image);
    const float* rb = residual != nullptr ? residual + b * out_image : nullptr;
    if (whole_rows) {
      for (size_t l = 0; l < lanes; ++l) {
        kernels::add_residual(flat + l * per_image, out_image,
                              rb + l * out_image, 1, out_image, activation_,
                              yb + l * out_image);
      }
      continue;
    }
    run_chunks(split_evenly(out_channels_, parts), out_image * lanes,
               num_threads, [&](size_t o0, size_t o1) {
                 for (size_t l = 0; l < lanes; ++l) {
                   drop_junk_columns(
                       flat + l * per_image, n / lanes, g->pitch,
                       rb != nullptr ? rb + l * out_image : nullptr,
                       activation_, ho, wo, o0, o1, yb + l * out_image);
                 }
               });
  }
}

void ConvOp::run_images(LinearKernel kernel, const float* x, const Shape& xs,
                        float* y, const float* residual, size_t first,
                        size_t last, int num_threads) const {
  const auto channels = static_cast<size_t>(xs[1]);
  const int64_t h = xs[2], w = xs[3];
  const size_t image = channels * static_cast<size_t>(h * w);
  const auto ho = static_cast<size_t>(p_.output_size(0, h));
  const auto wo = static_cast<size_t>(p_.output_size(1, w));
  const size_t out_image = out_channels_ * ho * wo;

  const std::shared_ptr<const Geometry> g = geometry_for(
      h, w, kernel == LinearKernel::kBsr ? bsr_planes_ : csr_planes_);
  // A residual is added as the product accumulates into y (copied there
  // first unless in place), or, where rows carry junk columns, as they are
  // dropped: the activation then comes with that pass.
  const bool add_in_copy = residual != nullptr && g->copy_out;
  const bool accumulate = residual != nullptr && !g->copy_out;
  const kernels::Activation act =
      add_in_copy ? kernels::Activation::kNone : activation_;
  const kernels::Epilogue epilogue{bias_, act, accumulate};
  const size_t pitch = g->pitch;
  const size_t n = g->n;
  float* planes = nullptr;
  if (g->copy_in) {
    // fill_planes writes every plane whole, padding included; what follows
    // the last one (kPhases' reach past it) stays zero.
    planes =
        thread_workspace_as<float>(WorkspaceSlot::kConvInput, g->padded_size);
    const size_t filled = channels * g->planes * g->plane_size;
    std::memset(planes + filled, 0, (g->padded_size - filled) * sizeof(float));
  }
  float* wide = g->copy_out ? thread_workspace_as<float>(
                                  WorkspaceSlot::kConvOutput, out_channels_ * n)
                            : nullptr;
  const size_t parts = chunk_threads(num_threads);
  const bool bsr = kernel == LinearKernel::kBsr;
  const size_t nnz = bsr ? bsr_.nnz_blocks() * bsr_.block_rows : csr_.nnz();
  for (size_t b = first; b < last; ++b) {
    const float* xb = x + b * image;
    if (g->copy_in) {
      // Split by channels over the threads the product uses: on one
      // thread this copy left ResNet's first stage at 1.3x on two.
      run_chunks(split_evenly(channels, parts), image, num_threads,
                 [&](size_t c0, size_t c1) {
                   fill_planes(*g, xb, c0, c1, h, w, planes);
                 });
      xb = planes;
    }
    float* yb = g->copy_out ? wide : y + b * out_image;
    const float* rb = residual != nullptr ? residual + b * out_image : nullptr;
    if (accumulate && rb != yb) {
      std::memcpy(yb, rb, out_image * sizeof(float));
    }
    auto product = [&](size_t begin, size_t end, size_t p0, size_t width) {
      multiply(*g, bsr, xb, yb, epilogue, begin, end, p0, width);
    };
    // Threads split the output channels, each reading the whole image, or,
    // where the image outweighs the weight (early layers: 0.9 MB of
    // 64x56x56 pixels against 30 KB of non-zeros), the output rows, each
    // reading its rows' part of the image and every weight (split on whole
    // vectors, so that every part's loads stay aligned).
    const size_t image_bytes = g->padded_size * sizeof(float);
    const size_t weight_bytes = nnz * (sizeof(float) + sizeof(uint32_t));
    if (parts > 1 && image_bytes > 4 * weight_bytes && ho >= 2 * parts) {
      const size_t row_ends = bsr ? bsr_.row_blocks() : out_channels_;
      run_chunks(split_evenly(ho, parts), nnz * n, num_threads,
                 [&](size_t r0, size_t r1) {
                   auto start = [&](size_t r) {
                     constexpr size_t kVector = 16;
                     return r == ho ? n
                                    : std::min(n, (r * pitch + kVector - 1) /
                                                      kVector * kVector);
                   };
                   product(0, row_ends, start(r0), start(r1) - start(r0));
                 });
    } else {
      run_chunks(bsr ? bsr_chunks_ : chunks_, nnz * n, num_threads,
                 [&](size_t begin, size_t end) { product(begin, end, 0, n); });
    }
    if (g->copy_out) {
      // Each thread its share of the output channels.
      run_chunks(split_evenly(out_channels_, parts), out_image, num_threads,
                 [&](size_t o0, size_t o1) {
                   drop_junk_columns(wide, n, pitch, add_in_copy ? rb : nullptr,
                                     activation_, ho, wo, o0, o1,
                                     y + b * out_image);
                 });
    }
  }
}

void ConvOp::fill_planes(const Geometry& g, const float* x, size_t c0,
                         size_t c1, int64_t h, int64_t w, float* planes) const {
  const int64_t sh = p_.strides[0], sw = p_.strides[1];
  const int64_t top = p_.pads[0], left = p_.pads[1];
  const auto pitch = static_cast<int64_t>(g.pitch);
  const size_t lanes = g.lanes;  // floats per pixel
  if (lanes == 1) {
    kernels::PhaseSplit split;
    split.h = static_cast<size_t>(h);
    split.w = static_cast<size_t>(w);
    split.sh = static_cast<size_t>(sh);
    split.sw = static_cast<size_t>(sw);
    split.top = static_cast<size_t>(top);
    split.left = static_cast<size_t>(left);
    split.rows = g.rows;
    split.pitch = g.pitch;
    split.plane_size = g.plane_size;
    split.phase_plane = g.phase_plane.data();
    for (size_t c = c0; c < c1; ++c) {
      kernels::split_phases(x + c * static_cast<size_t>(h * w), split,
                            planes + c * g.planes * g.plane_size);
    }
    return;
  }
  const size_t row_floats = g.pitch * lanes;
  auto ceil_div = [](int64_t a, int64_t b) {
    return a <= 0 ? -((-a) / b) : (a + b - 1) / b;
  };
  for (size_t c = c0; c < c1; ++c) {
    const float* xc = x + c * static_cast<size_t>(h * w) * lanes;
    for (int64_t a = 0; a < sh; ++a) {
      for (int64_t b = 0; b < sw; ++b) {
        const int plane = g.phase_plane[static_cast<size_t>(a * sw + b)];
        if (plane < 0) continue;
        float* dst =
            planes + (c * g.planes + static_cast<size_t>(plane)) * g.plane_size;
        // Plane columns v with an image pixel: v·sw + b - left in [0, w).
        const int64_t v0 =
            std::clamp<int64_t>(ceil_div(left - b, sw), 0, pitch);
        const int64_t v1 =
            std::clamp<int64_t>(ceil_div(w + left - b, sw), v0, pitch);
        const auto head = static_cast<size_t>(v0) * lanes;
        const auto body = static_cast<size_t>(v1 - v0) * lanes;
        for (size_t u = 0; u < g.rows; ++u) {
          float* out = dst + u * row_floats;
          const int64_t r = static_cast<int64_t>(u) * sh + a - top;
          if (r < 0 || r >= h || v1 == v0) {
            std::memset(out, 0, row_floats * sizeof(float));
            continue;
          }
          std::memset(out, 0, head * sizeof(float));
          const float* src =
              xc + static_cast<size_t>(r * w + (v0 * sw + b - left)) * lanes;
          if (sw == 1) {
            std::memcpy(out + head, src, body * sizeof(float));
          } else {
            for (int64_t v = 0; v < v1 - v0; ++v) {
              std::memcpy(out + head + static_cast<size_t>(v) * lanes,
                          src + static_cast<size_t>(v * sw) * lanes,
                          lanes * sizeof(float));
            }
          }
          std::memset(out + head + body, 0,
                      (row_floats - head - body) * sizeof(float));
        }
      }
    }
  }
}

}  // namespace spruce
