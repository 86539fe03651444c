// The Linear op end to end through an Engine: every kernel and weight format
// against a double-precision reference, including inputs wide enough to run
// as column panels of W and batches wide enough to run in column slices.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "runtime/linear_model.h"
#include "spruce/converters/model_def.h"
#include "spruce/spruce.h"
#include "test_util.h"

namespace spruce {
namespace {

using converters::WeightDef;
using converters::WeightFormat;

struct LinearCase {
  size_t out = 0, in = 0;
  WeightFormat format = WeightFormat::kCsr;
  size_t block_rows = 1, block_cols = 1;
  kernels::Activation activation = kernels::Activation::kGelu;
};

// x[?, in] -> Linear(W, b, activation) -> y[?, out], W 85% zero (in blocks
// for BSR); the activation GELU, SiLU or sigmoid.
class LinearModel {
 public:
  explicit LinearModel(const LinearCase& c) : c_(c) {
    std::mt19937 rng(static_cast<uint32_t>(c.in * 31 + c.out));
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::uniform_real_distribution<double> keep(0.0, 1.0);
    w_.assign(c.out * c.in, 0.0f);
    for (size_t r0 = 0; r0 < c.out; r0 += c.block_rows) {
      for (size_t c0 = 0; c0 < c.in; c0 += c.block_cols) {
        if (keep(rng) < 0.85) continue;
        for (size_t r = r0; r < std::min(c.out, r0 + c.block_rows); ++r) {
          for (size_t k = c0; k < std::min(c.in, c0 + c.block_cols); ++k) {
            w_[r * c.in + k] = u(rng);
          }
        }
      }
    }
    b_.resize(c.out);
    for (float& v : b_) v = u(rng);
    const int64_t out = static_cast<int64_t>(c.out);
    const int64_t in = static_cast<int64_t>(c.in);
    WeightDef w;
    w.name = "w";
    w.shape = {out, in};
    w.format = c.format;
    if (c.format == WeightFormat::kCsr) {
      w.csr = CsrMatrix::from_dense(w_.data(), c.out, c.in);
    } else if (c.format == WeightFormat::kBsr) {
      w.bsr = BsrMatrix::from_dense(w_.data(), c.out, c.in, c.block_rows,
                                    c.block_cols);
    } else {
      w.dense = w_;
    }
    path_ = testing::write_linear_model(
        "linear_" + std::to_string(c.in) + "_" + std::to_string(c.block_rows) +
            "x" + std::to_string(c.block_cols) + "_" +
            std::to_string(static_cast<int>(c.activation)) + ".spruce",
        std::move(w), b_, c.activation, {-1, in});
  }

  const std::string& path() const { return path_; }

  std::vector<double> reference(const std::vector<float>& x,
                                size_t batch) const {
    std::vector<double> y(batch * c_.out);
    for (size_t t = 0; t < batch; ++t) {
      for (size_t r = 0; r < c_.out; ++r) {
        double s = b_[r];
        for (size_t k = 0; k < c_.in; ++k) {
          s += double(w_[r * c_.in + k]) * x[t * c_.in + k];
        }
        y[t * c_.out + r] =
            c_.activation == kernels::Activation::kSilu ? s / (1 + std::exp(-s))
            : c_.activation == kernels::Activation::kSigmoid
                ? 1 / (1 + std::exp(-s))
                : 0.5 * s * (1.0 + std::erf(s / std::sqrt(2.0)));
      }
    }
    return y;
  }

  // Per output, the sum of the magnitudes of the terms that made it: float
  // sums in any order are within a small multiple of it of the exact one.
  std::vector<double> magnitudes(const std::vector<float>& x,
                                 size_t batch) const {
    std::vector<double> m(batch * c_.out);
    for (size_t t = 0; t < batch; ++t) {
      for (size_t r = 0; r < c_.out; ++r) {
        double s = std::abs(b_[r]);
        for (size_t k = 0; k < c_.in; ++k) {
          s += std::abs(double(w_[r * c_.in + k]) * x[t * c_.in + k]);
        }
        m[t * c_.out + r] = s;
      }
    }
    return m;
  }

 private:
  LinearCase c_;
  std::vector<float> w_, b_;
  std::string path_;
};

TEST(Linear, EveryKernelMatchesTheReference) {
  // 2500 inputs: three column panels. 200 rows of x: two column slices.
  const LinearCase cases[] = {
      {40, 2500, WeightFormat::kCsr},
      {40, 2500, WeightFormat::kBsr, 4, 1},
      {40, 2500, WeightFormat::kBsr, 1, 4},
      {37, 300, WeightFormat::kCsr},
      {40, 2500, WeightFormat::kDense},
      // oneDNN's matmul with SiLU and sigmoid applied by spruce after it.
      {40, 300, WeightFormat::kDense, 1, 1, kernels::Activation::kSilu},
      {40, 300, WeightFormat::kDense, 1, 1, kernels::Activation::kSigmoid},
      {40, 300, WeightFormat::kCsr, 1, 1, kernels::Activation::kSilu},
  };
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const LinearCase& c : cases) {
    const LinearModel model(c);
    for (int threads : {1, 2}) {
      EngineOptions options;
      options.num_threads = threads;
      options.kernel_selection =
          EngineOptions::KernelSelection::kSparsityThreshold;
      options.sparse_kernel_min_sparsity = 0.0;
      const Engine engine = Engine::load(model.path(), options);
      const std::string kernel = engine.layers()[0].kernel_for(1)->kernel;
      EXPECT_EQ(kernel, c.format == WeightFormat::kDense ? "onednn"
                        : c.format == WeightFormat::kCsr ? "sparse-csr"
                                                         : "sparse-bsr");
      for (size_t batch : {1, 3, 200}) {
        SCOPED_TRACE(kernel + " in=" + std::to_string(c.in) +
                     " threads=" + std::to_string(threads) +
                     " batch=" + std::to_string(batch));
        std::vector<float> x(batch * c.in);
        for (float& v : x) v = u(rng);
        const auto out =
            engine.run({{"x", x.data(), {int64_t(batch), int64_t(c.in)}}});
        const std::vector<double> expected = model.reference(x, batch);
        ASSERT_EQ(out[0].size(), expected.size());
        for (size_t i = 0; i < expected.size(); ++i) {
          ASSERT_NEAR(out[0].data()[i], expected[i],
                      1e-4 * (1 + std::abs(expected[i])))
              << "at " << i;
        }
      }
    }
  }
}

// Each kernel alone (EngineOptions::kernels), timed and planned as usual,
// at batch widths inside and past the small-batch kernels' ranges, on 1 and
// 2 threads: every output element within 1e-5 of its value and of its
// terms' magnitude. A kernel that cannot run a weight leaves it to oneDNN.
TEST(Linear, EachKernelAloneMatchesTheReference) {
  const LinearCase cases[] = {
      {70, 300, WeightFormat::kCsr},
      {48, 2500, WeightFormat::kCsr},  // column panels for CSR
      {64, 96, WeightFormat::kBsr, 4, 1},
      {33, 65, WeightFormat::kDense},
  };
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const char* kernel : {"onednn", "dense-packed", "sparse-lookup",
                             "sparse-csr", "sparse-bsr"}) {
    for (const LinearCase& c : cases) {
      const LinearModel model(c);
      for (int threads : {1, 2}) {
        EngineOptions options;
        options.num_threads = threads;
        options.kernels = {kernel};
        const Engine engine = Engine::load(model.path(), options);
        for (const KernelRange& r : engine.layers()[0].kernels) {
          EXPECT_TRUE(r.kernel == kernel || r.kernel == "onednn")
              << kernel << " allowed, " << r.kernel << " chosen";
        }
        for (size_t batch : {1, 2, 3, 4, 5, 8, 13, 17, 64, 200}) {
          SCOPED_TRACE(std::string(kernel) + " " + std::to_string(c.out) +
                       "x" + std::to_string(c.in) + " threads=" +
                       std::to_string(threads) +
                       " batch=" + std::to_string(batch));
          std::vector<float> x(batch * c.in);
          for (float& v : x) v = u(rng);
          const auto out =
              engine.run({{"x", x.data(), {int64_t(batch), int64_t(c.in)}}});
          const std::vector<double> want = model.reference(x, batch);
          const std::vector<double> scale = model.magnitudes(x, batch);
          ASSERT_EQ(out[0].shape(), (Shape{int64_t(batch), int64_t(c.out)}));
          for (size_t i = 0; i < want.size(); ++i) {
            ASSERT_NEAR(out[0].data()[i], want[i],
                        1e-5 * std::abs(want[i]) + 1e-5 * scale[i])
                << "at " << i;
          }
        }
      }
    }
  }
}

TEST(Linear, UnknownKernelNameIsRefusedWithTheKnownOnes) {
  const LinearModel model({20, 30, WeightFormat::kCsr});
  EngineOptions options;
  options.kernels = {"sparse-csr", "sparse-gather"};
  try {
    Engine::load(model.path(), options);
    FAIL() << "loaded with an unknown kernel";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "unknown kernel 'sparse-gather'; spruce's kernels are "
                  "onednn, dense-packed, sparse-lookup, sparse-csr, "
                  "sparse-bsr"),
              std::string::npos)
        << e.what();
  }
}

// Timed at the batches services use, each range's kernel reported with its
// speedup over the fastest dense kernel; forced dense, only dense kernels.
TEST(Linear, ChoicePerBatchRangeAgainstTheFastestDense) {
  const LinearModel model({256, 512, WeightFormat::kCsr});
  const Engine measured = Engine::load(model.path());
  const auto& ranges = measured.layers()[0].kernels;
  ASSERT_EQ(ranges.size(), 6u);
  const int64_t probes[] = {1, 2, 4, 8, 16, 64};
  for (size_t k = 0; k < ranges.size(); ++k) {
    EXPECT_EQ(ranges[k].min_batch, probes[k]);
    const bool dense =
        ranges[k].kernel == "onednn" || ranges[k].kernel == "dense-packed";
    // A sparse kernel is kept only when 5% faster than the fastest dense.
    if (dense) {
      EXPECT_EQ(ranges[k].speedup, 1.0);
    } else {
      EXPECT_GT(ranges[k].speedup, 1.05) << ranges[k].kernel;
    }
  }
  EXPECT_EQ(measured.layers()[0].kernel_for(3)->min_batch, 2);
  EXPECT_EQ(measured.layers()[0].kernel_for(1000)->min_batch, 64);
  EngineOptions dense;
  dense.force_dense = true;
  const Engine forced = Engine::load(model.path(), dense);
  for (const KernelRange& r : forced.layers()[0].kernels) {
    EXPECT_TRUE(r.kernel == "onednn" || r.kernel == "dense-packed")
        << r.kernel;
    EXPECT_EQ(r.speedup, 1.0);
  }
}

}  // namespace
}  // namespace spruce
