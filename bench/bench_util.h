// Inputs the benchmarks share: pruned weights and activations, generated the
// same way in every benchmark so that cases are comparable.
#ifndef SPRUCE_BENCH_BENCH_UTIL_H_
#define SPRUCE_BENCH_BENCH_UTIL_H_

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

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

inline std::vector<float> random_activations(size_t count) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(count);
  for (float& v : x) v = u(rng);
  return x;
}

}  // namespace spruce::bench

#endif  // SPRUCE_BENCH_BENCH_UTIL_H_
