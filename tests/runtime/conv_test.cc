// Conv through the engine, sparse (direct and im2col) and oneDNN, against a
// scalar reference over kernel sizes, strides, pads, dilations, groups and
// batches; and the memory plan on a residual block.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "conv_op.h"
#include "linear_model.h"
#include "spruce/converters/model_def.h"
#include "spruce/spruce.h"
#include "test_util.h"

namespace spruce {
namespace {

using converters::ModelDef;
using converters::NodeDef;
using converters::WeightDef;
using converters::WeightFormat;

struct ConvCase {
  int64_t batch, channels, h, w, out;
  SpatialParams p;
};

// y[b, o, y, x] = act(bias[o] + sum over (c, i, j) of W[o, c, i, j] ·
// x[b, g·Cg + c, y·sh − pt + i·dh, x·sw − pl + j·dw]), zero outside.
std::vector<float> reference_conv(const ConvCase& k,
                                  const std::vector<float>& x,
                                  const std::vector<float>& w,
                                  const std::vector<float>& bias, bool relu6) {
  const SpatialParams& p = k.p;
  const int64_t ho = p.output_size(0, k.h), wo = p.output_size(1, k.w);
  const int64_t cg = k.channels / p.group, og = k.out / p.group;
  std::vector<float> y(static_cast<size_t>(k.batch * k.out * ho * wo));
  for (int64_t b = 0; b < k.batch; ++b) {
    for (int64_t o = 0; o < k.out; ++o) {
      const int64_t g = o / og;
      for (int64_t oy = 0; oy < ho; ++oy) {
        for (int64_t ox = 0; ox < wo; ++ox) {
          double sum = bias[static_cast<size_t>(o)];
          for (int64_t c = 0; c < cg; ++c) {
            for (int64_t i = 0; i < p.kernel[0]; ++i) {
              for (int64_t j = 0; j < p.kernel[1]; ++j) {
                const int64_t iy =
                    oy * p.strides[0] - p.pads[0] + i * p.dilations[0];
                const int64_t ix =
                    ox * p.strides[1] - p.pads[1] + j * p.dilations[1];
                if (iy < 0 || iy >= k.h || ix < 0 || ix >= k.w) continue;
                sum +=
                    double(w[static_cast<size_t>(
                        ((o * cg + c) * p.kernel[0] + i) * p.kernel[1] + j)]) *
                    x[static_cast<size_t>(
                        ((b * k.channels + g * cg + c) * k.h + iy) * k.w + ix)];
              }
            }
          }
          if (relu6) sum = std::min(std::max(sum, 0.0), 6.0);
          y[static_cast<size_t>(((b * k.out + o) * ho + oy) * wo + ox)] =
              static_cast<float>(sum);
        }
      }
    }
  }
  return y;
}

// `got` holds `expected`, element by element: |got - want| <= 1e-4 ·
// (1 + |want|).
void expect_matches(const Tensor& got, const std::vector<float>& expected) {
  ASSERT_EQ(got.size(), expected.size());
  for (size_t e = 0; e < expected.size(); ++e) {
    ASSERT_NEAR(got.data()[e], expected[e], 1e-4f * (1 + std::abs(expected[e])))
        << "at " << e;
  }
}

// Engine options that run every layer at least `min_sparsity` sparse on a
// sparse kernel and the rest dense, untimed, on `threads`.
EngineOptions by_sparsity(int threads, double min_sparsity) {
  EngineOptions options;
  options.num_threads = threads;
  options.kernel_selection = EngineOptions::KernelSelection::kSparsityThreshold;
  options.sparse_kernel_min_sparsity = min_sparsity;
  return options;
}

// A Conv node reading value `in` into `out` with weights {weight, bias}.
NodeDef conv_node(const std::string& name, uint32_t in, uint32_t out,
                  uint32_t weight, uint32_t bias, const SpatialParams& p,
                  kernels::Activation activation) {
  NodeDef n;
  n.name = name;
  n.op = OpKind::kConv;
  n.inputs = {in};
  n.outputs = {out};
  n.weights = {weight, bias};
  set_spatial_params(&n.attrs, p);
  set_activation(&n.attrs, activation);
  return n;
}

// A Conv's weight stored CSR (or dense, or BSR in block_rows × 1 blocks),
// and its bias.
std::vector<WeightDef> conv_weights(const ConvCase& k,
                                    const std::vector<float>& w,
                                    const std::vector<float>& bias, bool sparse,
                                    size_t block_rows) {
  const int64_t window = int64_t{k.p.kernel[0]} * k.p.kernel[1];
  WeightDef wd;
  wd.name = "w";
  wd.shape = {k.out, k.channels / k.p.group * window};
  const auto rows = static_cast<size_t>(wd.shape[0]);
  const auto cols = static_cast<size_t>(wd.shape[1]);
  if (sparse && block_rows > 1) {
    wd.format = WeightFormat::kBsr;
    wd.bsr = BsrMatrix::from_dense(w.data(), rows, cols, block_rows, 1);
  } else if (sparse) {
    wd.format = WeightFormat::kCsr;
    wd.csr = CsrMatrix::from_dense(w.data(), rows, cols);
  } else {
    wd.dense = w;
  }
  WeightDef bd;
  bd.name = "b";
  bd.shape = {k.out};
  bd.dense = bias;
  return {wd, bd};
}

// A one-Conv model with conv_weights(), written to a file.
std::string conv_model(
    const ConvCase& k, const std::vector<float>& w,
    const std::vector<float>& bias, bool sparse, const std::string& name,
    size_t block_rows = 1,
    kernels::Activation activation = kernels::Activation::kRelu6) {
  ModelDef m;
  m.weights = conv_weights(k, w, bias, sparse, block_rows);
  m.values = {
      {"x", {-1, k.channels, k.h, k.w}},
      {"y", {-1, k.out, k.p.output_size(0, k.h), k.p.output_size(1, k.w)}}};
  m.nodes = {conv_node("conv", 0, 1, 0, 1, k.p, activation)};
  m.inputs = {0};
  m.outputs = {1};
  const std::string path = testing::temp_path(name);
  converters::write_model(m, path);
  return path;
}

// The model at `path` loaded on `threads` with every sparse weight on a
// sparse kernel (no timing): its conv runs `kernel` and gives `expected`.
void expect_runs_as_reference(const std::string& path, const ConvCase& k,
                              const std::vector<float>& x,
                              const std::vector<float>& expected, int threads,
                              const std::string& kernel) {
  const Engine engine = Engine::load(path, by_sparsity(threads, 0.0));
  EXPECT_EQ(engine.layers()[0].kernel_for(1)->kernel, kernel);
  const std::vector<Tensor> out =
      engine.run({{"x", x.data(), {k.batch, k.channels, k.h, k.w}}});
  expect_matches(out[0], expected);
}

SpatialParams params(uint32_t kernel, uint32_t stride, uint32_t pad,
                     uint32_t dilation, uint32_t group) {
  SpatialParams p;
  p.kernel[0] = p.kernel[1] = kernel;
  p.strides[0] = p.strides[1] = stride;
  p.pads[0] = p.pads[1] = p.pads[2] = p.pads[3] = pad;
  p.dilations[0] = p.dilations[1] = dilation;
  p.group = group;
  return p;
}

// Every activation a Conv can fuse, on each kernel: oneDNN runs some as
// post-ops and has spruce apply others after it (SiLU, sigmoid), the sparse
// and depthwise kernels apply them in their epilogues.
TEST(Conv, EveryFusedActivationOnEveryKernel) {
  const ConvCase dense_case{2, 8, 9, 11, 12, params(3, 1, 1, 1, 1)};
  const ConvCase depthwise_case{2, 8, 9, 11, 8, params(3, 1, 1, 1, 8)};
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  const auto activate = [](kernels::Activation a, double v) {
    const double hard_sigmoid = std::min(std::max(v / 6 + 0.5, 0.0), 1.0);
    switch (a) {
      case kernels::Activation::kRelu:
        return std::max(v, 0.0);
      case kernels::Activation::kRelu6:
        return std::min(std::max(v, 0.0), 6.0);
      case kernels::Activation::kSigmoid:
        return 1 / (1 + std::exp(-v));
      case kernels::Activation::kTanh:
        return std::tanh(v);
      case kernels::Activation::kSilu:
        return v / (1 + std::exp(-v));
      case kernels::Activation::kHardSwish:
        return v * hard_sigmoid;
      case kernels::Activation::kHardSigmoid:
        return hard_sigmoid;
      default:
        return v;
    }
  };
  for (const kernels::Activation a :
       {kernels::Activation::kNone, kernels::Activation::kRelu,
        kernels::Activation::kRelu6, kernels::Activation::kSigmoid,
        kernels::Activation::kTanh, kernels::Activation::kSilu,
        kernels::Activation::kHardSwish, kernels::Activation::kHardSigmoid}) {
    for (const char* kernel : {"onednn", "sparse-csr", "depthwise"}) {
      const std::string name = kernel;
      const ConvCase& k = name == "depthwise" ? depthwise_case : dense_case;
      const size_t wsize = static_cast<size_t>(k.out * k.channels / k.p.group *
                                               k.p.kernel[0] * k.p.kernel[1]);
      std::vector<float> w(wsize), bias(static_cast<size_t>(k.out));
      for (float& v : w) v = 0.5f * u(rng);
      for (float& v : bias) v = u(rng);
      std::vector<float> x(
          static_cast<size_t>(k.batch * k.channels * k.h * k.w));
      for (float& v : x) v = u(rng);
      std::vector<float> expected = reference_conv(k, x, w, bias, false);
      for (float& v : expected) v = static_cast<float>(activate(a, v));
      for (const int threads : {1, 2}) {
        SCOPED_TRACE(name + " activation " +
                     std::to_string(static_cast<int>(a)) + " threads " +
                     std::to_string(threads));
        expect_runs_as_reference(
            conv_model(k, w, bias, name == "sparse-csr",
                       "conv_act_" + name + ".spruce", 1, a),
            k, x, expected, threads, name);
      }
    }
  }
}

TEST(Conv, SparseAndDenseMatchTheReference) {
  std::vector<ConvCase> cases = {
      {1, 8, 9, 11, 16, params(1, 1, 0, 1, 1)},   // 1x1: no copies at all
      {2, 8, 9, 11, 16, params(3, 1, 1, 1, 1)},   // 3x3 same, batch 2
      {1, 6, 13, 7, 10, params(3, 1, 0, 1, 1)},   // 3x3 valid
      {1, 4, 12, 12, 8, params(5, 1, 2, 2, 1)},   // dilated
      {3, 6, 10, 9, 12, params(3, 2, 1, 1, 1)},   // stride 2: phase planes
      {1, 3, 23, 23, 8, params(7, 2, 3, 1, 1)},   // ResNet stem shape
      {1, 8, 15, 15, 16, params(1, 2, 0, 1, 1)},  // 1x1 stride 2 downsample
      {2, 8, 9, 9, 8, params(3, 1, 1, 1, 8)},     // depthwise
      {1, 8, 9, 9, 8, params(3, 2, 1, 1, 8)},     // depthwise stride 2
      {1, 8, 7, 10, 12, params(3, 1, 1, 1, 2)},   // 2 groups
      {1, 8, 11, 10, 12, params(3, 2, 1, 1, 2)},  // 2 groups, stride 2
      {1, 4, 14, 13, 6, params(3, 3, 1, 1, 1)},   // stride 3
      {1, 4, 15, 16, 6, params(3, 2, 2, 2, 1)},   // stride 2, dilation 2
      // An image far larger than its weight: two threads split its rows.
      {2, 4, 48, 41, 4, params(3, 1, 1, 1, 1)},
      {1, 4, 50, 47, 4, params(3, 2, 1, 1, 1)},
      // Enough input channels that the CSR product runs in chunks of them
      // (ConvOp's Geometry::chunks), over one tile or several, the rows
      // split between threads or not, strided and grouped too.
      {2, 64, 20, 18, 12, params(3, 1, 1, 1, 1)},
      {1, 32, 40, 40, 8, params(3, 1, 1, 1, 1)},
      {1, 64, 21, 19, 16, params(3, 2, 1, 1, 1)},
      {1, 64, 12, 13, 16, params(3, 1, 1, 1, 2)},
  };
  // Strides, padding and dilation differing per axis, an even kernel.
  ConvCase mixed{2, 5, 11, 12, 7, params(3, 1, 0, 1, 1)};
  mixed.p.strides[1] = 2;
  mixed.p.pads[1] = 1;
  mixed.p.pads[2] = 2;
  mixed.p.dilations[0] = 2;
  mixed.p.kernel[1] = 4;
  cases.push_back(mixed);
  // Asymmetric padding, different per axis.
  ConvCase asym{1, 5, 8, 9, 7, params(3, 1, 0, 1, 1)};
  asym.p.pads[0] = 2;
  asym.p.pads[3] = 1;
  asym.p.kernel[1] = 2;
  cases.push_back(asym);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const ConvCase& k = cases[ci];
    const size_t wsize = static_cast<size_t>(k.out * k.channels / k.p.group *
                                             k.p.kernel[0] * k.p.kernel[1]);
    std::vector<float> w(wsize), bias(static_cast<size_t>(k.out));
    for (float& v : w) v = keep(rng) < 0.7 ? 0.0f : 3.0f * u(rng);
    for (float& v : bias) v = u(rng);
    std::vector<float> x(static_cast<size_t>(k.batch * k.channels * k.h * k.w));
    for (float& v : x) v = u(rng);
    const std::vector<float> expected = reference_conv(k, x, w, bias, true);
    for (const bool sparse : {true, false}) {
      for (const int threads : {1, 2}) {
        SCOPED_TRACE("case " + std::to_string(ci) +
                     (sparse ? " sparse" : " dense") + " threads " +
                     std::to_string(threads));
        expect_runs_as_reference(
            conv_model(k, w, bias, sparse,
                       "conv" + std::to_string(ci) + ".spruce"),
            k, x, expected, threads,
            sparse                    ? "sparse-csr"
            : k.p.group == k.channels ? "depthwise"
                                      : "onednn");
      }
    }
  }
}

// The CSR kernel in each layout of its input planes (ConvOp::SparsePlanes;
// load keeps the fastest): rows left as they are, or rounded up to 16
// floats with the kernel's shifted form, or groups of images interleaved
// (on a batch of a group of each size and the case's own batch after
// them, which runs image by image). Shapes whose rows round up (9 and
// 11 wide), stride 2 and a 7×7 stride-2 window (shifts 0-3), dilation
// (shifts 0, 2, 4), groups, channels enough for chunks, an image whose
// rows two threads split, and a residual added on the way out; each
// against the reference, on 1 and 2 threads.
TEST(Conv, EverySparsePlaneLayoutMatchesTheReference) {
  std::vector<ConvCase> cases = {
      {2, 8, 9, 11, 16, params(3, 1, 1, 1, 1)},
      {1, 6, 13, 7, 10, params(3, 1, 0, 1, 1)},
      {1, 4, 12, 12, 8, params(5, 1, 2, 2, 1)},
      {2, 6, 10, 9, 12, params(3, 2, 1, 1, 1)},
      {1, 3, 23, 23, 8, params(7, 2, 3, 1, 1)},
      {1, 8, 15, 15, 16, params(1, 2, 0, 1, 1)},
      {1, 8, 9, 7, 12, params(1, 1, 0, 1, 1)},  // 1x1: read in place
      {1, 8, 7, 10, 12, params(3, 1, 1, 1, 2)},
      {1, 4, 48, 41, 4, params(3, 1, 1, 1, 1)},
      {2, 64, 20, 18, 12, params(3, 1, 1, 1, 1)},
      {1, 64, 21, 19, 16, params(3, 2, 1, 1, 1)},
      // Rows of 7 and 3 (with padding 8 and 4 apart, a row's right padding
      // the next one's left): ResNet's last stage, and a tiny plane.
      {2, 16, 7, 7, 8, params(3, 1, 1, 1, 1)},
      {1, 4, 3, 3, 4, params(3, 1, 1, 1, 1)},
      // Rows of 8 and 16: their padding takes them to 16 and 32 apart.
      {1, 4, 6, 8, 4, params(3, 1, 1, 1, 1)},
      {1, 4, 5, 16, 4, params(3, 1, 1, 1, 1)},
  };
  // Padding on the left only, and on the right only.
  ConvCase left{1, 4, 6, 6, 4, params(3, 1, 0, 1, 1)};
  left.p.pads[1] = 2;
  cases.push_back(left);
  ConvCase right{1, 4, 6, 5, 4, params(3, 1, 0, 1, 1)};
  right.p.pads[3] = 2;
  right.p.pads[0] = 1;
  cases.push_back(right);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const ConvCase& k = cases[ci];
    const size_t cols = static_cast<size_t>(k.channels / k.p.group *
                                            k.p.kernel[0] * k.p.kernel[1]);
    std::vector<float> w(static_cast<size_t>(k.out) * cols);
    std::vector<float> bias(static_cast<size_t>(k.out));
    for (float& v : w) v = keep(rng) < 0.7 ? 0.0f : 3.0f * u(rng);
    for (float& v : bias) v = u(rng);
    const CsrMatrix csr =
        CsrMatrix::from_dense(w.data(), static_cast<size_t>(k.out), cols);
    WeightDesc wd;
    wd.shape = {k.out, static_cast<int64_t>(cols)};
    wd.layout = WeightLayout::kCsr;
    wd.csr = csr.view();
    wd.values = wd.csr.values;
    wd.value_count = csr.nnz();
    WeightDesc bd;
    bd.shape = {k.out};
    bd.values = bias.data();
    bd.value_count = bias.size();
    // The case's batch comes first: the layouts for single images run on
    // it alone.
    ConvCase grouped = k;
    grouped.batch = k.batch;
    for (const size_t group : ConvOp::kImageGroups) {
      grouped.batch += static_cast<int64_t>(group);
    }
    std::vector<float> x(
        static_cast<size_t>(grouped.batch * k.channels * k.h * k.w));
    for (float& v : x) v = u(rng);
    const std::vector<float> plain = reference_conv(grouped, x, w, bias, false);
    std::vector<float> residual(plain.size());
    for (float& v : residual) v = u(rng);
    for (const bool with_residual : {false, true}) {
      // act(conv + bias + r), ReLU6.
      std::vector<float> expected = plain;
      for (size_t e = 0; e < expected.size(); ++e) {
        const float sum = with_residual ? plain[e] + residual[e] : plain[e];
        expected[e] = std::min(std::max(sum, 0.0f), 6.0f);
      }
      LinearPlanOptions options;
      options.allowed = kernel_bit(LinearKernel::kCsr);
      options.measure = false;
      options.max_threads = 2;
      const Shape single = {k.batch, k.channels, k.h, k.w};
      ConvOp op(wd, &bd, k.p, kernels::Activation::kRelu6, with_residual,
                single, options, engine);
      ASSERT_EQ(op.kernel(), LinearKernel::kCsr);
      for (const auto layout :
           {ConvOp::SparsePlanes::kPhases, ConvOp::SparsePlanes::kAligned,
            ConvOp::SparsePlanes::kImages}) {
        op.use_sparse_planes(layout);
        const Shape xs = layout == ConvOp::SparsePlanes::kImages
                             ? Shape{grouped.batch, k.channels, k.h, k.w}
                             : single;
        // The outputs of xs's images, the first of `expected`.
        const size_t count = static_cast<size_t>(xs[0]) * plain.size() /
                             static_cast<size_t>(grouped.batch);
        for (const int threads : {1, 2}) {
          SCOPED_TRACE("case " + std::to_string(ci) + " layout " +
                       std::to_string(static_cast<int>(layout)) + " threads " +
                       std::to_string(threads) +
                       (with_residual ? " residual" : ""));
          // In place, as the plan has it.
          std::vector<float> y(residual.begin(), residual.begin() + count);
          op.run(x.data(), xs, y.data(), false, threads,
                 with_residual ? y.data() : nullptr);
          for (size_t e = 0; e < count; ++e) {
            ASSERT_NEAR(y[e], expected[e], 1e-4f * (1 + std::abs(expected[e])))
                << "at " << e;
          }
        }
      }
    }
  }
}

// Groups of images are timed only when the engine says a convolution will
// see batches that can hold one, and only where load times the kernels;
// what is kept is a subset of the sizes, largest first.
TEST(Conv, ImageGroupsAreTimedOnlyForBatches) {
  const ConvCase k{1, 32, 7, 7, 32, params(3, 1, 1, 1, 1)};
  const size_t cols = 32 * 9;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> w(32 * cols);
  for (float& v : w) v = u(rng) < 0.8f ? 0.0f : u(rng);
  const CsrMatrix csr = CsrMatrix::from_dense(w.data(), 32, cols);
  WeightDesc wd;
  wd.shape = {32, static_cast<int64_t>(cols)};
  wd.layout = WeightLayout::kCsr;
  wd.csr = csr.view();
  wd.values = wd.csr.values;
  wd.value_count = csr.nnz();
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  for (const bool measure : {false, true}) {
    LinearPlanOptions options;
    options.allowed = kernel_bit(LinearKernel::kCsr);
    options.measure = measure;
    options.max_threads = 1;
    ConvOp op(wd, nullptr, k.p, kernels::Activation::kNone, false,
              {-1, k.channels, k.h, k.w}, options, engine);
    ASSERT_EQ(op.kernel(), LinearKernel::kCsr);
    op.prepare_batches(*std::rbegin(ConvOp::kImageGroups) - 1);
    EXPECT_TRUE(op.image_groups().empty()) << "a batch too small to group";
    op.prepare_batches(-1);
    if (!measure) {
      EXPECT_TRUE(op.image_groups().empty()) << "nothing timed";
      continue;
    }
    const std::vector<size_t> sizes(std::begin(ConvOp::kImageGroups),
                                    std::end(ConvOp::kImageGroups));
    size_t at = 0;
    for (const size_t g : op.image_groups()) {
      while (at < sizes.size() && sizes[at] != g) ++at;
      ASSERT_LT(at, sizes.size()) << g << " is not a group size, in order";
      ++at;
    }
  }
}

// Weights pruned in R×1 blocks run the direct convolution on the BSR kernel
// (ungrouped, any stride), also when the output channels are not a multiple
// of R; grouped ones fall back to CSR. Each against the reference, on 1 and
// 2 threads.
TEST(Conv, BlockSparseWeightsRunTheBsrKernel) {
  const ConvCase cases[] = {
      {1, 8, 9, 11, 16, params(1, 1, 0, 1, 1)},  // 1x1
      {2, 8, 9, 11, 12, params(3, 1, 1, 1, 1)},  // 3x3 same, batch 2
      {1, 6, 13, 7, 10, params(3, 1, 0, 1, 1)},  // 3x3 valid, 10 = 8 + 2
      {1, 4, 12, 12, 8, params(5, 1, 2, 2, 1)},  // dilated
      {1, 8, 9, 9, 16, params(3, 2, 1, 1, 1)},   // stride 2
      {1, 3, 16, 15, 8, params(7, 2, 3, 1, 1)},  // a 7x7 stride-2 stem
      {2, 8, 9, 10, 8, params(1, 2, 0, 1, 1)},   // 1x1 stride 2
      {1, 8, 7, 10, 16, params(3, 1, 1, 1, 2)},  // 2 groups: CSR
  };
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  for (size_t ci = 0; ci < std::size(cases); ++ci) {
    const ConvCase& k = cases[ci];
    const auto rows = static_cast<size_t>(k.out);
    const size_t cols = static_cast<size_t>(k.channels / k.p.group *
                                            k.p.kernel[0] * k.p.kernel[1]);
    for (const size_t block_rows : {size_t{4}, size_t{8}}) {
      // Blocks kept with probability 0.3, and some zeros inside them.
      std::vector<float> w(rows * cols, 0.0f), bias(rows);
      for (size_t r0 = 0; r0 < rows; r0 += block_rows) {
        for (size_t c = 0; c < cols; ++c) {
          if (keep(rng) >= 0.3) continue;
          for (size_t r = r0; r < std::min(rows, r0 + block_rows); ++r) {
            w[r * cols + c] = keep(rng) < 0.2 ? 0.0f : 3.0f * u(rng);
          }
        }
      }
      for (float& v : bias) v = u(rng);
      std::vector<float> x(
          static_cast<size_t>(k.batch * k.channels * k.h * k.w));
      for (float& v : x) v = u(rng);
      const std::vector<float> expected = reference_conv(k, x, w, bias, true);
      const bool bsr = k.p.group == 1;
      for (const int threads : {1, 2}) {
        SCOPED_TRACE("case " + std::to_string(ci) + " blocks " +
                     std::to_string(block_rows) + "x1 threads " +
                     std::to_string(threads));
        expect_runs_as_reference(
            conv_model(k, w, bias, true, "bsr_conv.spruce", block_rows), k, x,
            expected, threads, bsr ? "sparse-bsr" : "sparse-csr");
      }
    }
  }
}

// A residual input (the converter's fused Add): y = act(conv(x) + b + r),
// the activation after the Add, on every kernel: where the sparse product
// accumulates into y, where it adds r as it drops junk columns, oneDNN's
// sum post-op, after the depthwise kernel. r is a model input (its own
// buffer) or made by a Relu and dying at the Conv, which then writes over
// it. Each against the reference, on 1 and 2 threads.
TEST(Conv, ResidualIsAddedBeforeTheActivationOnEveryKernel) {
  struct Case {
    ConvCase k;
    std::vector<const char*> kernels;
  };
  const std::vector<const char*> all = {"onednn", "sparse-csr", "sparse-bsr"};
  const Case cases[] = {
      {{2, 8, 9, 11, 8, params(3, 1, 1, 1, 1)}, all},     // junk columns
      {{1, 8, 8, 8, 16, params(1, 1, 0, 1, 1)}, all},     // none: accumulates
      {{1, 8, 15, 15, 16, params(1, 2, 0, 1, 1)}, all},   // strided, none
      {{1, 64, 20, 18, 12, params(3, 1, 1, 1, 1)}, all},  // channel chunks
      {{2, 8, 9, 9, 8, params(3, 1, 1, 1, 8)}, {"depthwise"}},
  };
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  for (size_t ci = 0; ci < std::size(cases); ++ci) {
    const ConvCase& k = cases[ci].k;
    const int64_t ho = k.p.output_size(0, k.h), wo = k.p.output_size(1, k.w);
    const Shape xs = {k.batch, k.channels, k.h, k.w};
    const Shape ys = {k.batch, k.out, ho, wo};
    const size_t wsize = static_cast<size_t>(k.out * k.channels / k.p.group *
                                             k.p.kernel[0] * k.p.kernel[1]);
    // Whole 4×1 blocks kept, so that BSR stores no zeros.
    std::vector<float> w(wsize, 0.0f), bias(static_cast<size_t>(k.out));
    const size_t cols = wsize / static_cast<size_t>(k.out);
    for (size_t r0 = 0; r0 < static_cast<size_t>(k.out); r0 += 4) {
      for (size_t c = 0; c < cols; ++c) {
        if (k.p.group == 1 && keep(rng) < 0.6) continue;
        for (size_t r = r0; r < r0 + 4; ++r) w[r * cols + c] = 2.0f * u(rng);
      }
    }
    for (float& v : bias) v = u(rng);
    std::vector<float> x(element_count(xs)), s(element_count(ys));
    for (float& v : x) v = u(rng);
    for (float& v : s) v = 3.0f * u(rng);
    const std::vector<float> conv = reference_conv(k, x, w, bias, false);
    for (const char* kernel : cases[ci].kernels) {
      const std::string name = kernel;
      for (const bool made : {false, true}) {
        for (const kernels::Activation act :
             {kernels::Activation::kRelu6, kernels::Activation::kSilu}) {
          ModelDef m;
          m.weights = conv_weights(k, w, bias, name.rfind("sparse", 0) == 0,
                                   name == "sparse-bsr" ? 4 : 1);
          m.values = {{"x", xs}, {"s", ys}, {"r", ys}, {"y", ys}};
          NodeDef node = conv_node("conv", 0, 3, 0, 1, k.p, act);
          node.inputs = {0, made ? 2u : 1u};
          if (made) {
            NodeDef relu;
            relu.name = "relu";
            relu.op = OpKind::kRelu;
            relu.inputs = {1};
            relu.outputs = {2};
            m.nodes.push_back(relu);
          }
          m.nodes.push_back(node);
          m.inputs = {0, 1};
          m.outputs = {3};
          const std::string path = testing::temp_path("conv_residual.spruce");
          converters::write_model(m, path);
          std::vector<float> expected(conv.size());
          for (size_t e = 0; e < conv.size(); ++e) {
            const double r = made ? std::max(s[e], 0.0f) : s[e];
            expected[e] = static_cast<float>(
                kernels::activate_reference(double{conv[e]} + r, act));
          }
          for (const int threads : {1, 2}) {
            SCOPED_TRACE("case " + std::to_string(ci) + " " + name +
                         (made ? " in place" : " from an input") +
                         " activation " + std::to_string(int(act)) +
                         " threads " + std::to_string(threads));
            const Engine engine = Engine::load(path, by_sparsity(threads, 0.0));
            const size_t conv_layer = made ? 1 : 0;
            EXPECT_EQ(engine.layers()[conv_layer].kernel_for(1)->kernel, name);
            if (made && name != "onednn") {
              // y takes r's buffer (oneDNN's runs channels-last, r not).
              EXPECT_EQ(engine.memory_plan().peak_bytes,
                        element_count(ys) * sizeof(float));
            }
            const std::vector<Tensor> out =
                engine.run({{"x", x.data(), xs}, {"s", s.data(), ys}});
            expect_matches(out[0], expected);
          }
        }
      }
    }
  }
}

// A residual whose shape is not the output's is refused at load, naming it.
TEST(Conv, ResidualOfAnotherShapeIsAnError) {
  const ConvCase k{1, 4, 6, 6, 8, params(3, 1, 1, 1, 1)};
  const std::vector<float> w(8 * 4 * 9, 0.5f), bias(8, 0.0f);
  ModelDef m;
  m.weights = conv_weights(k, w, bias, false, 1);
  m.values = {{"x", {1, 4, 6, 6}}, {"r", {1, 4, 6, 6}}, {"y", {1, 8, 6, 6}}};
  NodeDef node = conv_node("conv", 0, 2, 0, 1, k.p, kernels::Activation::kNone);
  node.inputs = {0, 1};
  m.nodes = {node};
  m.inputs = {0, 1};
  m.outputs = {2};
  const std::string path = testing::temp_path("conv_bad_residual.spruce");
  converters::write_model(m, path);
  try {
    Engine::load(path);
    FAIL() << "loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "residual input [1, 4, 6, 6] does not have the output's "
                  "shape [1, 8, 6, 6]"),
              std::string::npos)
        << e.what();
  }
}

// conv → conv → Add(with the block input) → Relu: the memory plan shares
// buffers, the Relu runs in place, and the result is the reference's.
TEST(MemoryPlan, ResidualBlockReusesBuffersAndStaysCorrect) {
  const int64_t c = 4, h = 6, w = 6;
  ModelDef m;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> w1(c * c * 9), w2(c * c * 9), b(c, 0.1f);
  for (float& v : w1) v = u(rng);
  for (float& v : w2) v = u(rng);
  auto dense = [](const std::string& name, Shape shape, std::vector<float> v) {
    WeightDef d;
    d.name = name;
    d.shape = std::move(shape);
    d.dense = std::move(v);
    return d;
  };
  m.weights = {dense("w1", {c, c * 9}, w1), dense("b1", {c}, b),
               dense("w2", {c, c * 9}, w2), dense("b2", {c}, b)};
  const Shape s = {1, c, h, w};
  m.values = {{"x", s}, {"a", s}, {"b", s}, {"sum", s}, {"y", s}, {"z", s}};
  const NodeDef conv1 = conv_node("conv1", 0, 1, 0, 1, params(3, 1, 1, 1, 1),
                                  kernels::Activation::kRelu);
  NodeDef conv2 = conv1;
  conv2.name = "conv2";
  conv2.inputs = {1};
  conv2.outputs = {2};
  conv2.weights = {2, 3};
  set_activation(&conv2.attrs, kernels::Activation::kNone);
  NodeDef add;
  add.name = "add";
  add.op = OpKind::kAdd;
  add.inputs = {2, 0};
  add.outputs = {3};
  NodeDef relu;
  relu.name = "relu";
  relu.op = OpKind::kRelu;
  relu.inputs = {3};
  relu.outputs = {4};
  NodeDef conv3 = conv2;  // reads y; its output z is the model output
  conv3.name = "conv3";
  conv3.inputs = {4};
  conv3.outputs = {5};
  m.nodes = {conv1, conv2, add, relu, conv3};
  m.inputs = {0};
  m.outputs = {5};
  const std::string path = testing::temp_path("residual.spruce");
  converters::write_model(m, path);
  const Engine engine = Engine::load(path);
  const size_t tensor = static_cast<size_t>(c * h * w) * sizeof(float);
  EXPECT_EQ(engine.memory_plan().unplanned_bytes, 5 * tensor);
  // a, b live together; sum takes a's slot; y is sum in place; z takes b's.
  EXPECT_EQ(engine.memory_plan().peak_bytes, 2 * tensor);

  std::vector<float> x(static_cast<size_t>(c * h * w));
  for (float& v : x) v = u(rng);
  ConvCase k{1, c, h, w, c, params(3, 1, 1, 1, 1)};
  auto relu_all = [](std::vector<float> v) {
    for (float& e : v) e = std::max(e, 0.0f);
    return v;
  };
  const auto a = relu_all(reference_conv(k, x, w1, b, false));
  auto sum = reference_conv(k, a, w2, b, false);
  for (size_t e = 0; e < sum.size(); ++e) sum[e] += x[e];
  const auto expected = reference_conv(k, relu_all(sum), w2, b, false);
  for (int run = 0; run < 2; ++run) {  // the second run reuses nothing stale
    const std::vector<Tensor> out = engine.run({{"x", x.data(), s}});
    expect_matches(out[0], expected);
  }
}

// dense conv → sparse conv → dense conv → GlobalAveragePool on a batch of
// 2: the dense convs keep their activations channels-last, the sparse one
// reads and writes NCHW, and the layouts are converted between them; the
// result is the reference's in every thread count.
TEST(Conv, MixedSparseAndDenseChainsConvertLayouts) {
  const int64_t batch = 2, c = 5, h = 7, w = 6;
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  std::vector<float> w1(c * c * 9), w2(c * c * 9), w3(c * c), b(c);
  for (float& v : w1) v = u(rng);
  for (float& v : w2) v = keep(rng) < 0.8 ? 0.0f : u(rng);
  for (float& v : w3) v = u(rng);
  for (float& v : b) v = u(rng);
  ModelDef m;
  WeightDef d1, d2, d3, db;
  d1.name = "w1";
  d1.shape = {c, c * 9};
  d1.dense = w1;
  d2.name = "w2";
  d2.shape = {c, c * 9};
  d2.format = WeightFormat::kCsr;
  d2.csr = CsrMatrix::from_dense(w2.data(), c, c * 9);
  d3.name = "w3";
  d3.shape = {c, c};
  d3.dense = w3;
  db.name = "b";
  db.shape = {c};
  db.dense = b;
  m.weights = {d1, d2, d3, db};
  const Shape s = {-1, c, h, w};
  m.values = {{"x", s}, {"a", s}, {"b", s}, {"c", s}, {"y", {-1, c, 1, 1}}};
  auto conv = [&](const std::string& name, uint32_t in, uint32_t weight,
                  uint32_t kernel) {
    return conv_node(name, in, in + 1, weight, 3,
                     params(kernel, 1, kernel / 2, 1, 1),
                     kernels::Activation::kRelu6);
  };
  NodeDef gap;
  gap.name = "gap";
  gap.op = OpKind::kGlobalAveragePool;
  gap.inputs = {3};
  gap.outputs = {4};
  m.nodes = {conv("conv1", 0, 0, 3), conv("conv2", 1, 1, 3),
             conv("conv3", 2, 2, 1), gap};
  m.inputs = {0};
  m.outputs = {4};
  const std::string path = testing::temp_path("mixed_chain.spruce");
  converters::write_model(m, path);

  std::vector<float> x(static_cast<size_t>(batch * c * h * w));
  for (float& v : x) v = u(rng);
  const ConvCase k3{batch, c, h, w, c, params(3, 1, 1, 1, 1)};
  const ConvCase k1{batch, c, h, w, c, params(1, 1, 0, 1, 1)};
  const auto a = reference_conv(k3, x, w1, b, true);
  const auto bb = reference_conv(k3, a, w2, b, true);
  const auto cc = reference_conv(k1, bb, w3, b, true);
  std::vector<float> expected(static_cast<size_t>(batch * c));
  for (size_t p = 0; p < expected.size(); ++p) {
    double sum = 0;
    for (int64_t e = 0; e < h * w; ++e)
      sum += cc[p * static_cast<size_t>(h * w) + e];
    expected[p] = static_cast<float>(sum / static_cast<double>(h * w));
  }
  for (const int threads : {1, 2}) {
    const Engine engine = Engine::load(path, by_sparsity(threads, 0.5));
    ASSERT_EQ(engine.layers()[0].kernel_for(1)->kernel, "onednn");
    ASSERT_EQ(engine.layers()[1].kernel_for(1)->kernel, "sparse-csr");
    ASSERT_EQ(engine.layers()[2].kernel_for(1)->kernel, "onednn");
    const std::vector<Tensor> out =
        engine.run({{"x", x.data(), {batch, c, h, w}}});
    ASSERT_EQ(out[0].shape(), (Shape{batch, c, 1, 1}));
    SCOPED_TRACE("threads " + std::to_string(threads));
    expect_matches(out[0], expected);
  }
}

// GlobalAveragePool of NCHW planes, enough of them that two threads split
// them, against each plane's mean.
TEST(Pool, GlobalAveragePoolSplitsPlanesOverThreads) {
  const int64_t batch = 1, c = 96, h = 20, w = 21;  // one image: not split
  ModelDef m;
  m.values = {{"x", {-1, c, h, w}}, {"y", {-1, c, 1, 1}}};
  NodeDef pool;
  pool.name = "pool";
  pool.op = OpKind::kGlobalAveragePool;
  pool.inputs = {0};
  pool.outputs = {1};
  m.nodes = {pool};
  m.inputs = {0};
  m.outputs = {1};
  const std::string path = testing::temp_path("global_pool.spruce");
  converters::write_model(m, path);
  std::mt19937 rng(21);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(batch * c * h * w));
  for (float& v : x) v = u(rng);
  std::vector<float> expected(static_cast<size_t>(batch * c));
  const auto plane = static_cast<size_t>(h * w);
  for (size_t p = 0; p < expected.size(); ++p) {
    double sum = 0;
    for (size_t e = 0; e < plane; ++e) sum += x[p * plane + e];
    expected[p] = static_cast<float>(sum / static_cast<double>(plane));
  }
  for (const int threads : {1, 2}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    EngineOptions options;
    options.num_threads = threads;
    const std::vector<Tensor> out =
        Engine::load(path, options).run({{"x", x.data(), {batch, c, h, w}}});
    ASSERT_EQ(out[0].shape(), (Shape{batch, c, 1, 1}));
    expect_matches(out[0], expected);
  }
}

// conv 3x3 → MaxPool 3x3 stride 2 or AveragePool 2x2 stride 2 on a batch of
// 3: after a dense conv the pool runs channels-last, after a sparse one
// NCHW; enough work for 2 threads to split it by output rows or planes.
TEST(Conv, PoolRunsInItsProducersLayout) {
  const int64_t batch = 3, c = 16, h = 30, w = 29;
  std::mt19937 rng(13);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  for (const bool sparse : {false, true}) {
    for (const OpKind pool : {OpKind::kMaxPool, OpKind::kAveragePool}) {
      std::vector<float> wc(c * c * 9), b(c);
      for (float& v : wc) v = sparse && keep(rng) < 0.8 ? 0.0f : u(rng);
      for (float& v : b) v = u(rng);
      const SpatialParams pp = pool == OpKind::kMaxPool
                                   ? params(3, 2, 1, 1, 1)
                                   : params(2, 2, 0, 1, 1);
      const int64_t ho = pp.output_size(0, h), wo = pp.output_size(1, w);
      ModelDef m;
      WeightDef dw, db;
      dw.name = "w";
      dw.shape = {c, c * 9};
      if (sparse) {
        dw.format = WeightFormat::kCsr;
        dw.csr = CsrMatrix::from_dense(wc.data(), c, c * 9);
      } else {
        dw.dense = wc;
      }
      db.name = "b";
      db.shape = {c};
      db.dense = b;
      m.weights = {dw, db};
      m.values = {{"x", {-1, c, h, w}}, {"a", {-1, c, h, w}},
                  {"y", {-1, c, ho, wo}}};
      NodeDef p;
      p.name = "pool";
      p.op = pool;
      p.inputs = {1};
      p.outputs = {2};
      set_spatial_params(&p.attrs, pp);
      m.nodes = {conv_node("conv", 0, 1, 0, 1, params(3, 1, 1, 1, 1),
                           kernels::Activation::kRelu6),
                 p};
      m.inputs = {0};
      m.outputs = {2};
      const std::string path = testing::temp_path("conv_pool.spruce");
      converters::write_model(m, path);

      std::vector<float> x(static_cast<size_t>(batch * c * h * w));
      for (float& v : x) v = u(rng);
      const ConvCase k{batch, c, h, w, c, params(3, 1, 1, 1, 1)};
      const auto a = reference_conv(k, x, wc, b, true);
      std::vector<float> expected(static_cast<size_t>(batch * c * ho * wo));
      for (int64_t plane = 0; plane < batch * c; ++plane) {
        for (int64_t oy = 0; oy < ho; ++oy) {
          for (int64_t ox = 0; ox < wo; ++ox) {
            double acc = pool == OpKind::kMaxPool ? -1e30 : 0.0;
            int cells = 0;
            for (int64_t i = 0; i < pp.kernel[0]; ++i) {
              for (int64_t j = 0; j < pp.kernel[1]; ++j) {
                const int64_t iy = oy * pp.strides[0] - pp.pads[0] + i;
                const int64_t ix = ox * pp.strides[1] - pp.pads[1] + j;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                const double v =
                    a[static_cast<size_t>((plane * h + iy) * w + ix)];
                acc = pool == OpKind::kMaxPool ? std::max(acc, v) : acc + v;
                ++cells;
              }
            }
            if (pool == OpKind::kAveragePool) acc /= cells;
            expected[static_cast<size_t>((plane * ho + oy) * wo + ox)] =
                static_cast<float>(acc);
          }
        }
      }
      for (const int threads : {1, 2}) {
        const Engine engine = Engine::load(path, by_sparsity(threads, 0.5));
        ASSERT_EQ(engine.layers()[0].kernel_for(1)->kernel,
                  sparse ? "sparse-csr" : "onednn");
        const std::vector<Tensor> out =
            engine.run({{"x", x.data(), {batch, c, h, w}}});
        ASSERT_EQ(out[0].shape(), (Shape{batch, c, ho, wo}));
        SCOPED_TRACE(std::string(sparse ? "sparse" : "dense") + " conv, " +
                     (pool == OpKind::kMaxPool ? "max" : "average") +
                     " pool, threads " + std::to_string(threads));
        expect_matches(out[0], expected);
      }
    }
  }
}

// 1x1 conv → depthwise 3x3 (stride 1 or 2, channel multiplier 1 or 2) →
// 1x1 conv, the 1x1 weights dense (oneDNN: the depthwise kernel runs
// channels-last between them) or sparse (NCHW); each against the reference
// on 1 and 2 threads, with every kernel chosen as planned.
TEST(Conv, DepthwiseRunsInItsNeighboursLayout) {
  const int64_t batch = 2, c = 6, h = 9, w = 8;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  for (const int64_t multiplier : {1, 2}) {
    for (const uint32_t stride : {1u, 2u}) {
      for (const bool sparse : {false, true}) {
        const int64_t cd = c * multiplier;  // the depthwise conv's outputs
        std::vector<float> w1(c * c), wd(cd * 9), w3(c * cd), b1(c), bd(cd),
            b3(c);
        for (float& v : w1) v = keep(rng) < 0.8 ? 0.0f : u(rng);
        for (float& v : w3) v = keep(rng) < 0.8 ? 0.0f : u(rng);
        for (auto* v : {&wd, &b1, &bd, &b3}) {
          for (float& e : *v) e = u(rng);
        }
        const SpatialParams pd =
            params(3, stride, 1, 1, static_cast<uint32_t>(c));
        const int64_t ho = pd.output_size(0, h), wo = pd.output_size(1, w);
        ModelDef m;
        auto weight = [&](const std::string& name, const std::vector<float>& v,
                          Shape shape, bool csr) {
          WeightDef d;
          d.name = name;
          d.shape = shape;
          if (csr) {
            d.format = WeightFormat::kCsr;
            d.csr =
                CsrMatrix::from_dense(v.data(), static_cast<size_t>(shape[0]),
                                      static_cast<size_t>(shape[1]));
          } else {
            d.dense = v;
          }
          m.weights.push_back(d);
        };
        weight("w1", w1, {c, c}, sparse);
        weight("b1", b1, {c}, false);
        weight("wd", wd, {cd, 9}, false);
        weight("bd", bd, {cd}, false);
        weight("w3", w3, {c, cd}, sparse);
        weight("b3", b3, {c}, false);
        m.values = {{"x", {-1, c, h, w}},
                    {"a", {-1, c, h, w}},
                    {"d", {-1, cd, ho, wo}},
                    {"y", {-1, c, ho, wo}}};
        auto conv = [&](const std::string& name, uint32_t in, uint32_t weights,
                        const SpatialParams& p) {
          return conv_node(name, in, in + 1, weights, weights + 1, p,
                           kernels::Activation::kRelu6);
        };
        m.nodes = {conv("conv1", 0, 0, params(1, 1, 0, 1, 1)),
                   conv("depthwise", 1, 2, pd),
                   conv("conv3", 2, 4, params(1, 1, 0, 1, 1))};
        m.inputs = {0};
        m.outputs = {3};
        const std::string path = testing::temp_path("depthwise_chain.spruce");
        converters::write_model(m, path);

        std::vector<float> x(static_cast<size_t>(batch * c * h * w));
        for (float& v : x) v = u(rng);
        const auto a = reference_conv(
            {batch, c, h, w, c, params(1, 1, 0, 1, 1)}, x, w1, b1, true);
        const auto d =
            reference_conv({batch, c, h, w, cd, pd}, a, wd, bd, true);
        const auto expected = reference_conv(
            {batch, cd, ho, wo, c, params(1, 1, 0, 1, 1)}, d, w3, b3, true);
        for (const int threads : {1, 2}) {
          SCOPED_TRACE("multiplier " + std::to_string(multiplier) + " stride " +
                       std::to_string(stride) +
                       (sparse ? " sparse" : " dense") + " threads " +
                       std::to_string(threads));
          const Engine engine = Engine::load(path, by_sparsity(threads, 0.5));
          const std::string outer = sparse ? "sparse-csr" : "onednn";
          ASSERT_EQ(engine.layers()[0].kernel_for(1)->kernel, outer);
          ASSERT_EQ(engine.layers()[1].kernel_for(1)->kernel, "depthwise");
          ASSERT_EQ(engine.layers()[2].kernel_for(1)->kernel, outer);
          const std::vector<Tensor> out =
              engine.run({{"x", x.data(), {batch, c, h, w}}});
          expect_matches(out[0], expected);
        }
      }
    }
  }
}

// A batch of images runs image by image when every op keeps them apart,
// with the same results as a whole run; a model whose Softmax normalizes
// across the batch (its rule) or that folds the batch into another
// dimension before one (the run's shapes) runs whole, and is still right.
TEST(Engine, BatchesOfImagesRunImageByImageOnlyWhenOpsKeepThemApart) {
  const int64_t batch = 3, c = 4, h = 6, w = 5, out = 8;
  std::mt19937 rng(13);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  std::vector<float> wc(out * c * 9), b(out);
  for (float& v : wc) v = keep(rng) < 0.8 ? 0.0f : u(rng);
  for (float& v : b) v = u(rng);
  std::vector<float> x(static_cast<size_t>(batch * c * h * w));
  for (float& v : x) v = u(rng);
  const ConvCase k{batch, c, h, w, out, params(3, 1, 1, 1, 1)};
  const std::vector<float> conv = reference_conv(k, x, wc, b, true);
  const size_t plane = static_cast<size_t>(h * w);

  // conv → then: "pool" (GlobalAveragePool), "softmax0" (Softmax over the
  // batch axis), "folded" (Reshape [N·O, H·W] → Transpose → Softmax over
  // its last axis → Transpose → Reshape [N, O, H, W]: each pixel normalized
  // over the batch and channels, with no op's rule mixing the batch).
  auto model = [&](const std::string& tail) {
    ModelDef m;
    WeightDef wd, bd;
    wd.name = "w";
    wd.shape = {out, c * 9};
    wd.format = WeightFormat::kCsr;
    wd.csr = CsrMatrix::from_dense(wc.data(), out, c * 9);
    bd.name = "b";
    bd.shape = {out};
    bd.dense = b;
    m.weights = {wd, bd};
    m.values = {{"x", {-1, c, h, w}}, {"a", {-1, out, h, w}}};
    m.nodes = {conv_node("conv", 0, 1, 0, 1, params(3, 1, 1, 1, 1),
                         kernels::Activation::kRelu6)};
    auto add = [&](OpKind op, const std::string& name, Shape shape) {
      NodeDef t;
      t.name = name;
      t.op = op;
      t.inputs = {static_cast<uint32_t>(m.values.size() - 1)};
      m.values.push_back({name, std::move(shape)});
      t.outputs = {static_cast<uint32_t>(m.values.size() - 1)};
      m.nodes.push_back(t);
      return &m.nodes.back();
    };
    if (tail == "pool") {
      add(OpKind::kGlobalAveragePool, "y", {-1, out, 1, 1});
    } else if (tail == "softmax0") {
      add(OpKind::kSoftmax, "y", {-1, out, h, w})->attrs.set_int("axis", 0);
    } else {
      add(OpKind::kReshape, "f", {-1, h * w})
          ->attrs.set_ints("shape", {-1, h * w});
      add(OpKind::kTranspose, "t", {h * w, -1})->attrs.set_ints("perm", {1, 0});
      add(OpKind::kSoftmax, "s", {h * w, -1})->attrs.set_int("axis", 1);
      add(OpKind::kTranspose, "u", {-1, h * w})->attrs.set_ints("perm", {1, 0});
      add(OpKind::kReshape, "y", {-1, out, h, w})
          ->attrs.set_ints("shape", {-1, out, h, w});
    }
    m.inputs = {0};
    m.outputs = {static_cast<uint32_t>(m.values.size() - 1)};
    const std::string path = testing::temp_path("images_" + tail + ".spruce");
    converters::write_model(m, path);
    return path;
  };
  // Softmax over the batch (and, folded, the channels) at each pixel.
  auto softmax_over_batch = [&](bool channels_too) {
    std::vector<float> y(conv.size());
    const size_t groups = channels_too ? 1 : static_cast<size_t>(out);
    const size_t per = static_cast<size_t>(batch * out) / groups;
    for (size_t g = 0; g < groups; ++g) {
      for (size_t p = 0; p < plane; ++p) {
        // Element e of the group: row e of [N·O] when folded, channel g of
        // image e otherwise.
        auto at = [&](size_t e) {
          const size_t row =
              channels_too ? e : e * static_cast<size_t>(out) + g;
          return row * plane + p;
        };
        double sum = 0;
        for (size_t e = 0; e < per; ++e) sum += std::exp(double(conv[at(e)]));
        for (size_t e = 0; e < per; ++e)
          y[at(e)] = static_cast<float>(std::exp(double(conv[at(e)])) / sum);
      }
    }
    return y;
  };
  std::vector<float> pooled(static_cast<size_t>(batch * out));
  for (size_t r = 0; r < pooled.size(); ++r) {
    double sum = 0;
    for (size_t e = 0; e < plane; ++e) sum += conv[r * plane + e];
    pooled[r] = static_cast<float>(sum / static_cast<double>(plane));
  }
  struct Case {
    std::string tail;
    bool apart;
    std::vector<float> expected;
  };
  const Case cases[] = {{"pool", true, pooled},
                        {"softmax0", false, softmax_over_batch(false)},
                        {"folded", true, softmax_over_batch(true)}};
  // "folded" passes the load-time rules (runs_images_apart); the run's
  // shapes ([N·O, H·W] does not lead with the batch) keep it whole, which
  // its results show: split, each image would be normalized on its own.
  for (const Case& t : cases) {
    const std::string path = model(t.tail);
    for (const bool split : {true, false}) {
      SCOPED_TRACE(t.tail + (split ? " split_batch" : " whole"));
      EngineOptions options;
      options.split_batch = split;
      const Engine engine = Engine::load(path, options);
      EXPECT_EQ(engine.runs_images_apart(), split && t.apart);
      const std::vector<Tensor> y =
          engine.run({{"x", x.data(), {batch, c, h, w}}});
      // A bad value in the last image is reported at its place in the batch.
      std::vector<float> bad = x;
      bad.back() = std::nanf("");
      try {
        engine.run({{"x", bad.data(), {batch, c, h, w}}});
        ADD_FAILURE() << "a NaN input ran";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("position " +
                                             std::to_string(bad.size() - 1)),
                  std::string::npos)
            << e.what();
      }
      ASSERT_EQ(y[0].size(), t.expected.size());
      for (size_t e = 0; e < t.expected.size(); ++e) {
        ASSERT_NEAR(y[0].data()[e], t.expected[e],
                    1e-5f * (1 + std::abs(t.expected[e])))
            << "at " << e;
      }
    }
  }
}

// Image by image, each image re-reads every layer's weights: the layers
// whose weights outweigh an image's activations run once over the whole
// batch instead, on the images' results stitched into one batch. Here
// conv3's 147 KB of weights on 32 KB of activations (and everything
// after it) run whole, conv1 and conv2 (their activations larger than
// their weights) image by image; `a`, a model output computed image by
// image, crosses too. The results are those of the whole batch run at
// once, on 1 and 2 threads (a tail over each thread's images, joined),
// with and without a profile; and with a dynamic image size, which hides
// an image's activations at load, every layer runs image by image.
TEST(Engine, LayersWhoseWeightsOutweighAnImageRunOnceOverTheBatch) {
  const int64_t c = 8, h = 16, w = 16, mid = 64, classes = 10;
  std::mt19937 rng(29);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  auto random = [&](size_t count) {
    std::vector<float> v(count);
    for (float& e : v) e = u(rng);
    return v;
  };
  auto dense = [&](const std::string& name, Shape shape) {
    WeightDef d;
    d.name = name;
    d.dense = random(static_cast<size_t>(element_count(shape)));
    d.shape = std::move(shape);
    return d;
  };
  ModelDef m;
  m.weights = {dense("w1", {c, c * 9}),     dense("b1", {c}),
               dense("w2", {mid, c * 9}),   dense("b2", {mid}),
               dense("w3", {mid, mid * 9}), dense("b3", {mid}),
               dense("w4", {classes, mid}), dense("b4", {classes})};
  m.values = {{"x", {-1, c, h, w}},
              {"a", {-1, c, h, w}},
              {"b", {-1, mid, h / 2, w / 2}},
              {"c", {-1, mid, h / 2, w / 2}},
              {"p", {-1, mid, 1, 1}},
              {"f", {-1, mid}},
              {"y", {-1, classes}}};
  const auto relu6 = kernels::Activation::kRelu6;
  m.nodes = {conv_node("conv1", 0, 1, 0, 1, params(3, 1, 1, 1, 1), relu6),
             conv_node("conv2", 1, 2, 2, 3, params(3, 2, 1, 1, 1), relu6),
             conv_node("conv3", 2, 3, 4, 5, params(3, 1, 1, 1, 1), relu6)};
  m.nodes.push_back(testing::node("pool", OpKind::kGlobalAveragePool, 3, 4));
  m.nodes.push_back(testing::node("flatten", OpKind::kFlatten, 4, 5));
  m.nodes.push_back(testing::node("fc", OpKind::kLinear, 5, 6, {6, 7}));
  m.inputs = {0};
  m.outputs = {6, 1};
  const std::string path = testing::temp_path("whole_tail.spruce");
  converters::write_model(m, path);

  for (const int64_t batch : {1, 3}) {
    const std::vector<float> x = random(static_cast<size_t>(batch * c * h * w));
    const std::vector<Input> inputs = {{"x", x.data(), {batch, c, h, w}}};
    EngineOptions whole_options = by_sparsity(1, 0.5);
    whole_options.split_batch = false;
    const std::vector<Tensor> want =
        Engine::load(path, whole_options).run(inputs);
    for (const int threads : {1, 2}) {
      SCOPED_TRACE("batch " + std::to_string(batch) + ", " +
                   std::to_string(threads) + " threads");
      const Engine engine = Engine::load(path, by_sparsity(threads, 0.5));
      ASSERT_TRUE(engine.runs_images_apart());
      EXPECT_EQ(engine.whole_batch_from(), 2u);  // conv3
      RunProfile profile;
      for (RunProfile* p : {static_cast<RunProfile*>(nullptr), &profile}) {
        const std::vector<Tensor> got = engine.run(inputs, p);
        ASSERT_EQ(got.size(), 2u);
        for (size_t k = 0; k < got.size(); ++k) {
          EXPECT_EQ(got[k].shape(), want[k].shape());
          expect_matches(got[k],
                         std::vector<float>(want[k].data(),
                                            want[k].data() + want[k].size()));
        }
      }
      EXPECT_EQ(profile.runs, 1u);
      ASSERT_EQ(profile.seconds.size(), m.nodes.size());
      for (size_t i = 0; i < m.nodes.size(); ++i) {
        EXPECT_GT(profile.seconds[i], 0.0) << m.nodes[i].name;
      }
    }
  }
  // With the image size dynamic, one image's activations are unknown at
  // load: every layer runs image by image.
  for (size_t v = 0; v < 4; ++v) {
    m.values[v].shape[2] = m.values[v].shape[3] = -1;
  }
  const std::string dynamic = testing::temp_path("whole_tail_dynamic.spruce");
  converters::write_model(m, dynamic);
  const Engine engine = Engine::load(dynamic, by_sparsity(1, 0.5));
  EXPECT_TRUE(engine.runs_images_apart());
  EXPECT_EQ(engine.whole_batch_from(), engine.layers().size());
}

// The same where the batch joins at a sparse Linear whose input crosses
// as an alias: Flatten's output is the pooled tensor's bytes, which each
// image's run keeps in its own buffers.
TEST(Engine, AWholeTailMayStartAtAnAliasedValue) {
  const int64_t c = 16, h = 16, w = 16, hidden = 256, classes = 32;
  std::mt19937 rng(31);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  // sparsity 0: dense.
  auto weight = [&](const std::string& name, Shape shape, double sparsity) {
    WeightDef d;
    d.name = name;
    std::vector<float> v(static_cast<size_t>(element_count(shape)));
    for (float& e : v) e = keep(rng) < sparsity ? 0.0f : u(rng);
    if (sparsity > 0) {
      d.format = WeightFormat::kCsr;
      d.csr = CsrMatrix::from_dense(v.data(), static_cast<size_t>(shape[0]),
                                    static_cast<size_t>(shape[1]));
    } else {
      d.dense = std::move(v);
    }
    d.shape = std::move(shape);
    return d;
  };
  ModelDef m;
  m.weights = {weight("w1", {c, c * 9}, 0), weight("b1", {c}, 0),
               weight("w2", {hidden, c}, 0.9),
               weight("w3", {classes, hidden}, 0.9)};
  m.values = {{"x", {-1, c, h, w}}, {"a", {-1, c, h, w}}, {"p", {-1, c, 1, 1}},
              {"f", {-1, c}},       {"g", {-1, hidden}},  {"y", {-1, classes}}};
  m.nodes = {conv_node("conv1", 0, 1, 0, 1, params(3, 1, 1, 1, 1),
                       kernels::Activation::kRelu)};
  m.nodes.push_back(testing::node("pool", OpKind::kGlobalAveragePool, 1, 2));
  m.nodes.push_back(testing::node("flatten", OpKind::kFlatten, 2, 3));
  m.nodes.push_back(testing::node("fc1", OpKind::kLinear, 3, 4, {2}));
  m.nodes.push_back(testing::node("fc2", OpKind::kLinear, 4, 5, {3}));
  m.inputs = {0};
  m.outputs = {5};
  const std::string path = testing::temp_path("whole_tail_linear.spruce");
  converters::write_model(m, path);
  const int64_t batch = 5;
  std::vector<float> x(static_cast<size_t>(batch * c * h * w));
  for (float& v : x) v = u(rng);
  const std::vector<Input> inputs = {{"x", x.data(), {batch, c, h, w}}};
  EngineOptions whole_options = by_sparsity(1, 0.5);
  whole_options.split_batch = false;
  const Tensor want = Engine::load(path, whole_options).run(inputs)[0];
  for (const int threads : {1, 2}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    const Engine engine = Engine::load(path, by_sparsity(threads, 0.5));
    ASSERT_TRUE(engine.runs_images_apart());
    EXPECT_EQ(engine.whole_batch_from(), 3u);  // fc1
    expect_matches(engine.run(inputs)[0],
                   std::vector<float>(want.data(), want.data() + want.size()));
  }
}

// Layout plans that differ are each timed as whole runs, and the fastest
// runs. One conv between the model's NCHW input and its output: weighed at
// almost nothing, the conversions let it run oneDNN channels-last (on a
// weight 1% sparse, several times faster than CSR in any build); weighed
// enormous, it stays NCHW on CSR. (With a second conv after it, that
// conv's own preference would decide the first's output layout at both
// scales, and timing noise with it.)
TEST(Engine, LayoutPlansThatDifferAreTimedAndTheFastestRuns) {
  const int64_t batch = 2, c = 32, h = 16, w = 16, out = 64;
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  std::vector<float> wc(out * c * 9), b(out);
  for (float& v : wc) v = keep(rng) < 0.01 ? 0.0f : u(rng);
  for (float& v : b) v = u(rng);
  const ConvCase k{batch, c, h, w, out, params(3, 1, 1, 1, 1)};
  const std::string path = conv_model(k, wc, b, true, "layout_plans.spruce");
  std::vector<float> x(static_cast<size_t>(batch * c * h * w));
  for (float& v : x) v = u(rng);
  const std::vector<float> expected = reference_conv(k, x, wc, b, true);

  for (const int threads : {1, 2}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    EngineOptions options;
    options.num_threads = threads;
    options.layout_plan_scales = {1e-6, 1e6};
    const Engine engine = Engine::load(path, options);
    const LayoutPlanInfo& plans = engine.layout_plan();
    // On one thread CSR is over 3x slower here in every build, so the two
    // scales always plan apart. On two, with other processes on the cores
    // (CI's sanitizer suites run beside), oneDNN's OpenMP team can time
    // slower than CSR, and both scales then plan CSR: nothing is timed.
    if (threads == 1 || !plans.seconds.empty()) {
      ASSERT_EQ(plans.conversion_scales, options.layout_plan_scales);
      ASSERT_EQ(plans.seconds.size(), 2u);
      EXPECT_GT(plans.seconds[0], 0.0);
      EXPECT_GT(plans.seconds[1], 0.0);
      EXPECT_EQ(plans.chosen, plans.seconds[0] <= plans.seconds[1] ? 0u : 1u);
      EXPECT_EQ(engine.layers()[0].kernel_for(1)->kernel,
                plans.chosen == 0 ? "onednn" : "sparse-csr");
    } else {
      EXPECT_TRUE(plans.conversion_scales.empty());
      EXPECT_EQ(engine.layers()[0].kernel_for(1)->kernel, "sparse-csr");
    }
    const std::vector<Tensor> y =
        engine.run({{"x", x.data(), {batch, c, h, w}}});
    expect_matches(y[0], expected);

    // One scale: one plan, nothing timed.
    options.layout_plan_scales = {1.0};
    EXPECT_TRUE(Engine::load(path, options).layout_plan().seconds.empty());
  }
  EngineOptions bad;
  bad.layout_plan_scales = {1.0, 0.0};
  try {
    Engine::load(path, bad);
    FAIL() << "loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "layout_plan_scales: 0 is not a positive finite scale"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace spruce
