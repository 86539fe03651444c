// The Conv op as planned at load, on NCHW activations:
// y[b] = act(conv2d(x[b], W) + bias).
//
// Sparse (CSR weights, also made from BSR): every convolution is one CSR
// product per image whose column indices are remapped at plan time
// ("direct"; no im2col). The image is copied once into zero-padded planes
// split by stride phase, [C, phases, Hq, Wq] (stride 1: one phase, the
// padded image [C, Hp, Wp]); weight (c, i, j) of output channel o then
// reads the plane of phase ((i·dh) mod sh, (j·dw) mod sw) of channel
// g·Cg + c at offset (i·dh div sh)·Wq + j·dw div sw, so with X's row stride
// 1 the kernel computes all Ho × Wq outputs of a channel at once as a
// stride-1 product (Wq − Wo junk columns per row are dropped). Each pixel is
// read from L1/L2 by every weight that touches it; a stride-2 7×7 stem
// copies its 3-channel input once instead of building a 147-row im2col.
// With rows a multiple of 16 floats apart, every tap's offset is a
// multiple of 16 plus its column shift, and the CSR kernel's shifted form
// makes every vector load aligned (a load across two cache lines costs two;
// 1.6x the kernel's time with AVX-512); which layout runs is timed at load
// with the kernels (SparsePlanes below).
// Offsets depend on H and W, so they are kept per input size (a few sizes
// cached).
//  - Sixteen (or eight) images of a batch can also run as one product,
//    interleaved pixel by pixel ([C, Hp, Wp, 16]: each vector one pixel of
//    sixteen images). Small planes gain: every load aligned, no lane a junk
//    column, and the weight read once per group instead of per image (a
//    7x7 plane per image fills 49 lanes of 64, and at batch 16 its 1.9 MB
//    of non-zeros come from L3 for each image). Timed at load on a group
//    where it may pay (SparsePlanes::kImages); the rest of a batch, and
//    batches under eight, run image by image.
//  - A weight pruned in R×1 blocks (R output channels × one input element;
//    ungrouped) also runs the direct form on the BSR kernel: each pixel
//    vector it loads feeds R output channels' FMAs instead of one, which
//    unstructured weights cannot share.
// Depthwise (group == input channels, dense weights): spruce's own kernel
// (kernels/depthwise.h), NCHW or NHWC, so it can run between sparse
// convolutions (NCHW) or dense ones (NHWC) with no conversion either side.
// Dense: oneDNN convolution (weights reordered once into its preferred
// layout), with bias and the activation as post-ops, on NCHW activations or,
// with no reorders, on NHWC ones: the engine keeps the activations between
// dense convolutions channels-last.
// With a residual input (a residual connection's Add fused by the
// converter): y[b] = act(conv2d(x[b], W) + bias + r[b]), r in y's layout and
// shape; y may be r (in place). The sparse kernels add it in their epilogue
// (accumulating into y, or as they drop the junk columns), oneDNN as a sum
// post-op, the depthwise kernel in a pass after it.
// Which one runs is timed at load on the model's own input size, like
// Linear, each kernel in the layouts it runs in; the engine's layout plan
// then picks per convolution what is fastest counting the NCHW <-> NHWC
// conversions it would need between its producer's layout and the one its
// readers want (settle()).
#ifndef SPRUCE_RUNTIME_CONV_OP_H_
#define SPRUCE_RUNTIME_CONV_OP_H_

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <tuple>
#include <vector>

#include "graph.h"
#include "linear_op.h"
#include "spruce/kernels/depthwise.h"
#include "spruce/sparse_matrix.h"

namespace spruce {

class ConvOp {
 public:
  // `input` is the declared input shape (-1 where dynamic): with H and W
  // known, the kernels are timed on it at load. With `residual`, every run
  // adds one (see above).
  ConvOp(const WeightDesc& weight, const WeightDesc* bias,
         const SpatialParams& params, kernels::Activation activation,
         bool residual, const Shape& input, const LinearPlanOptions& options,
         const dnnl::engine& engine);
  ~ConvOp();

  // x: [N, C, H, W] (its shape `x_shape`), y: [N, O, Ho, Wo], stored NCHW
  // or, with `channels_last` (dense kernel only), NHWC. `residual`: like y
  // (it may be y), given exactly when the op was made with one.
  void run(const float* x, const Shape& x_shape, float* y, bool channels_last,
           int num_threads, const float* residual = nullptr) const;

  LinearKernel kernel() const { return choice_.ranges().front().kernel; }
  // Picks the kernel, and the layout it runs in, for an input arriving
  // channels-last or NCHW and an output its readers want channels-last or
  // NCHW (unknown: as the input): the fastest counting the conversions each
  // needs (layouts are planned once every op exists, and may be planned
  // again). Until then the kernel is the one for channels-last neighbours.
  // `conversion_scale` weighs the conversions' estimated cost (the engine
  // tries more than one plan).
  void settle(bool input_channels_last,
              std::optional<bool> output_channels_last,
              double conversion_scale);
  // A new layout plan begins: wants_channels_last() no longer answers
  // from the last settle().
  void unsettle() { settled_ = false; }
  // The choice is final: frees what will not run.
  void finish();
  // Whether its kernel (chosen or candidate) runs in either layout.
  bool any_layout() const { return !depthwise_packed_.empty(); }
  // How the sparse kernels read their input planes (see Geometry).
  enum class SparsePlanes : uint8_t {
    // Rows Wq = ceil(Wp / sw) apart, each non-zero's loads at its tap's
    // offset, at any alignment (the BSR kernel, and the CSR one where
    // rounding the rows up costs more than it saves).
    kPhases,
    // Rows a multiple of 16 floats apart, the CSR kernel in its shifted
    // form (kernels/spmm.h): every load aligned, at the price of the junk
    // columns the rounding adds (30 -> 32 at 28x28, 9 -> 16 at 7x7).
    kAligned,
    // A group of images interleaved ([C, planes, rows, pitch, G]): with
    // G = 16 every one of the kernel's vectors is one pixel of sixteen
    // images, so every load is aligned and no lane holds a junk column
    // whatever the plane's width (a 7x7 plane fills 49 of every 64 lanes
    // otherwise), and a row of output channel o is one long product, not
    // one per image. Groups of 16, then of 8 (two pixels to a vector: what
    // each of two threads has of a batch of 16); the rest of a batch runs
    // image by image.
    kImages,
  };
  // The images of a batch a group interleaves (kImages), largest first.
  static constexpr size_t kImageGroups[] = {16, 8};
  // It will run over batches of `images` (-1: unknown) at once, not image
  // by image: times whether groups of images run faster interleaved
  // (kImages), where load times kernels and the CSR one runs (a group
  // takes sixteen images' time to time, so only convolutions that see
  // batches pay for it).
  void prepare_batches(int64_t images);
  // The group sizes that run interleaved, largest first (none: every image
  // on its own).
  const std::vector<size_t>& image_groups() const { return csr_groups_; }
  // Runs the CSR kernel in `layout` from now on: kImages for groups of
  // images, every size (and the layout timed at load for the rest), the
  // others for single images (tests and benches: load times each and keeps
  // the fastest).
  void use_sparse_planes(SparsePlanes layout);
  // Whether it reads and writes channels-last (else NCHW).
  bool runs_channels_last() const { return runs_channels_last_; }
  // The layout it will read its input in whatever its neighbours do (true:
  // channels-last), if that is known before settle().
  std::optional<bool> wants_channels_last() const;
  double speedup() const { return choice_.ranges().front().speedup; }
  // Multiply-adds of one image of `x_shape` if dense (for GFLOP/s reports).
  size_t dense_macs(const Shape& x_shape) const;
  // Multiply-adds a run over the whole batch `x_shape` does with the chosen
  // kernel (the non-zeros times the output pixels when sparse).
  size_t multiply_adds(const Shape& x_shape) const;

 private:
  struct Geometry;  // planes and offsets for one input size
  class Dense;      // oneDNN convolution, per input shape

  // `kernel`: kCsr, or kBsr where has_bsr_.
  void run_sparse(LinearKernel kernel, const float* x, const Shape& x_shape,
                  float* y, const float* residual, int num_threads) const;
  // Images [first, last) of the batch, each one product on `num_threads`.
  void run_images(LinearKernel kernel, const float* x, const Shape& x_shape,
                  float* y, const float* residual, size_t first, size_t last,
                  int num_threads) const;
  // Images [first, first + count) in groups of `group` interleaved (count
  // a multiple of it), each one CSR product on `num_threads`.
  void run_image_groups(const float* x, const Shape& x_shape, float* y,
                        const float* residual, size_t first, size_t count,
                        size_t group, int num_threads) const;
  // Output channels [begin, end) (block rows for BSR), outputs [p0, p0 +
  // width) of each, of planes `x` into `y` (rows g.n apart).
  void multiply(const Geometry& g, bool bsr, const float* x, float* y,
                const kernels::Epilogue& epilogue, size_t begin, size_t end,
                size_t p0, size_t width) const;
  // The depthwise kernel over the batch, in either layout.
  void run_depthwise(const float* x, const Shape& x_shape, float* y,
                     const float* residual, bool channels_last,
                     int num_threads) const;
  kernels::DepthwiseShape depthwise_shape(const Shape& x_shape) const;
  // `group`: the images kImages interleaves.
  std::shared_ptr<const Geometry> geometry_for(int64_t h, int64_t w,
                                               SparsePlanes layout,
                                               size_t group = 1) const;
  // g's chunks (see Geometry): the CSR weight over g->cols split by input
  // channel, `reach` the offsets a window spans past its first tap.
  void split_channels(size_t channels, size_t reach, Geometry* g) const;
  // Channels [c0, c1) of image x [C, H, W] into g's planes, padding
  // included; with kImages, of x [C, H, W, 16] (sixteen images
  // interleaved).
  void fill_planes(const Geometry& g, const float* x, size_t c0, size_t c1,
                   int64_t h, int64_t w, float* planes) const;
  // Sets csr_groups_: the group sizes whose images of `input`'s size run
  // faster interleaved (kImages) than image by image, timed where that may
  // be.
  void time_image_groups(const Shape& input, int num_threads);
  // The layouts of its planes `kernel` (kCsr or kBsr) can run in.
  std::vector<SparsePlanes> sparse_layouts(LinearKernel kernel) const;
  // One image through `kernel` in its own layout (`channels_last` for
  // oneDNN's and the depthwise one's choice of layout).
  double time_kernel(LinearKernel kernel, const Shape& x_shape,
                     bool channels_last, int num_threads) const;
  // Times `candidates` on one image of `input` in each layout they run in,
  // and the conversions, for settle() to weigh.
  void measure(const std::vector<Candidate<LinearKernel>>& candidates,
               const Shape& input, int num_threads);
  // The fastest of the measured candidates between an input and an output
  // in these layouts, each conversion's estimate times `conversion_scale`;
  // the depthwise kernel's layout in *depthwise_cl.
  KernelChoice<LinearKernel> fastest(bool in_cl, bool out_cl,
                                     double conversion_scale,
                                     bool* depthwise_cl) const;
  void release_unused();

  SpatialParams p_;
  kernels::Activation activation_;
  bool residual_;
  size_t out_channels_;
  size_t in_per_group_;  // C / group
  const float* bias_;
  // Sparse weight [O, Cg·kh·kw] and its thread split.
  bool has_csr_ = false;
  kernels::CsrView csr_;
  // The weight in R×1 blocks (ungrouped convolutions), split by
  // block rows.
  bool has_bsr_ = false;
  kernels::BsrView bsr_;
  std::vector<size_t> bsr_chunks_;
  CsrMatrix derived_csr_;  // from a BSR weight
  std::vector<size_t> chunks_;
  mutable std::mutex mutex_;
  mutable std::map<std::tuple<int64_t, int64_t, SparsePlanes, size_t>,
                   std::shared_ptr<const Geometry>>
      geometries_;
  // The planes each sparse kernel reads: the fastest when timed.
  SparsePlanes csr_planes_ = SparsePlanes::kPhases;
  // The group sizes that run interleaved (kImages), largest first: those
  // faster than image by image when timed.
  std::vector<size_t> csr_groups_;
  // The input and threads measure() timed the kernels on (empty: none).
  Shape timed_input_;
  int timed_threads_ = 1;
  SparsePlanes bsr_planes_ = SparsePlanes::kPhases;
  std::vector<float> densified_;  // a sparse weight expanded for oneDNN
  // Depthwise: the weight [O, kh·kw] (the file's or densified_), and
  // tap-major for NHWC (multiplier 1).
  const float* depthwise_weight_ = nullptr;
  std::vector<float> depthwise_packed_;
  // How the depthwise kernel runs NCHW: the faster of the two when timed.
  kernels::DepthwiseNchw depthwise_nchw_ = kernels::DepthwiseNchw::kColumns;
  std::unique_ptr<Dense> dense_;
  KernelChoice<LinearKernel> choice_;
  bool runs_channels_last_ = false;
  // Measured at load for settle(): each candidate's time in a layout it
  // runs in; converting one image's input and output (estimated from the
  // process's conversion rate).
  bool undecided_ = false;
  bool settled_ = false;  // settle() has picked, not yet finish()
  std::vector<Candidate<LinearKernel>> candidates_;
  std::map<std::pair<LinearKernel, bool>, double> times_;
  double convert_in_ = 0, convert_out_ = 0;
};

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_CONV_OP_H_
