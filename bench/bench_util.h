// Inputs the benchmarks share: pruned weights and activations, generated the
// same way in every benchmark so that cases are comparable, and weights in
// the format a kernel runs.
#ifndef SPRUCE_BENCH_BENCH_UTIL_H_
#define SPRUCE_BENCH_BENCH_UTIL_H_

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "linear_op.h"
#include "spruce/sparse_matrix.h"

namespace spruce::bench {

// Gaussian weights with the smallest |w| zeroed: what magnitude pruning leaves.
inline std::vector<float> magnitude_pruned(size_t rows, size_t cols, double sparsity,
                                           unsigned seed = 42) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(rows * cols);
  for (float& v : w) v = normal(rng);
  std::vector<float> mags(w.size());
  std::transform(w.begin(), w.end(), mags.begin(), [](float v) { return std::abs(v); });
  const size_t k = static_cast<size_t>(sparsity * static_cast<double>(w.size()));
  if (k > 0) {
    std::nth_element(mags.begin(), mags.begin() + (k - 1), mags.end());
    const float threshold = mags[k - 1];
    for (float& v : w) if (std::abs(v) <= threshold) v = 0.0f;
  }
  return w;
}

// Block pruning as the tools do it: drop the `sparsity` fraction of
// br × bc blocks with the smallest L1 norm.
inline std::vector<float> block_pruned(size_t rows, size_t cols, size_t br,
                                       size_t bc, double sparsity) {
  std::vector<float> w = magnitude_pruned(rows, cols, 0.0);
  const size_t gr = rows / br, gc = cols / bc;
  std::vector<float> norms(gr * gc, 0.0f);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c)
      norms[(r / br) * gc + c / bc] += std::abs(w[r * cols + c]);
  }
  std::vector<float> sorted = norms;
  const size_t k =
      static_cast<size_t>(sparsity * static_cast<double>(norms.size()));
  if (k == 0) return w;
  std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end());
  const float threshold = sorted[k - 1];
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) {
      if (norms[(r / br) * gc + c / bc] <= threshold) w[r * cols + c] = 0.0f;
    }
  }
  return w;
}

inline std::vector<float> random_activations(size_t count) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(count);
  for (float& v : x) v = u(rng);
  return x;
}

// A weight as a loaded model describes it, in the format `kernel` runs.
struct Weight {
  std::vector<float> dense;
  spruce::CsrMatrix csr;
  spruce::BsrMatrix bsr;
  spruce::WeightDesc desc;
};

inline std::unique_ptr<Weight> make_weight(std::vector<float> dense, size_t out,
                                           size_t in, LinearKernel kernel,
                                           size_t br, size_t bc) {
  auto w = std::make_unique<Weight>();
  w->dense = std::move(dense);
  spruce::WeightDesc& d = w->desc;
  d.name = "w";
  d.shape = {static_cast<int64_t>(out), static_cast<int64_t>(in)};
  if (kernel == LinearKernel::kBsr) {
    w->bsr = spruce::BsrMatrix::from_dense(w->dense.data(), out, in, br, bc);
    d.layout = spruce::WeightLayout::kBsr;
    d.bsr = w->bsr.view();
    d.values = d.bsr.values;
    d.value_count = w->bsr.nnz_blocks() * br * bc;
  } else if (spruce::is_dense(kernel)) {
    d.values = w->dense.data();
    d.value_count = w->dense.size();
  } else {
    w->csr = spruce::CsrMatrix::from_dense(w->dense.data(), out, in);
    d.layout = spruce::WeightLayout::kCsr;
    d.csr = w->csr.view();
    d.values = d.csr.values;
    d.value_count = w->csr.nnz();
  }
  return w;
}

// A bias's values and their description, as a loaded model gives them.
struct Bias {
  explicit Bias(std::vector<float> v) : values(std::move(v)) {
    desc.shape = {static_cast<int64_t>(values.size())};
    desc.values = values.data();
    desc.value_count = values.size();
  }
  Bias(const Bias&) = delete;
  Bias& operator=(const Bias&) = delete;
  std::vector<float> values;
  spruce::WeightDesc desc;
};

// With BENCH_COLD_CACHES=1 in the environment, a loop over `state`
// evicts the caches before each iteration (untimed): the layer then finds
// its input, weights and workspace in memory, the far end of what a
// model's layers find (each reads what the one before wrote). Off by
// default.
inline bool cold_caches() {
  static const bool cold = [] {
    const char* v = std::getenv("BENCH_COLD_CACHES");
    return v != nullptr && v[0] != '\0' && v[0] != '0';
  }();
  return cold;
}

// Writes a buffer larger than any last-level cache here (64 MiB), one
// float per cache line, when cold_caches(); timing paused meanwhile.
template <class State>
void evict_caches(State& state) {
  if (!cold_caches()) return;
  static std::vector<float> junk((64u << 20) / sizeof(float));
  state.PauseTiming();
  for (size_t i = 0; i < junk.size(); i += 16) junk[i] += 1.0f;
  state.ResumeTiming();
}

// Plan options that let only `kernels` run, split for `threads`.
inline spruce::LinearPlanOptions only(spruce::KernelMask kernels, int threads) {
  spruce::LinearPlanOptions options;
  options.max_threads = threads;
  options.allowed = kernels;
  return options;
}

}  // namespace spruce::bench

#endif  // SPRUCE_BENCH_BENCH_UTIL_H_
