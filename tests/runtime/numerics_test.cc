// Floating-point mode around runs: denormals are flushed while spruce
// computes, and the caller's mode is restored afterwards.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include "runtime/linear_model.h"
#include "spruce/converters/model_def.h"
#include "spruce/spruce.h"
#include "test_util.h"

namespace spruce {
namespace {

using converters::WeightDef;

// The control bits (rounding, masks, flush modes), not the sticky status
// flags that any float operation may raise.
unsigned float_mode() {
#if defined(__x86_64__) || defined(__i386__)
  return _mm_getcsr() & ~0x3Fu;
#elif defined(__aarch64__)
  return static_cast<unsigned>(__builtin_aarch64_get_fpcr());
#else
#error "numerics_test: add this architecture's floating-point control register"
#endif
}

// y[?, 3] = x[?, 4] · Wᵀ with W all ones, no bias; weights sparse or dense.
std::string ones_model(bool sparse) {
  WeightDef w;
  w.name = "w";
  w.shape = {3, 4};
  std::vector<float> ones(12, 1.0f);
  if (sparse) {
    w.format = converters::WeightFormat::kCsr;
    w.csr = CsrMatrix::from_dense(ones.data(), 3, 4);
  } else {
    w.dense = ones;
  }
  return testing::write_linear_model(
      sparse ? "ones_sparse.spruce" : "ones_dense.spruce", std::move(w), {},
      kernels::Activation::kNone, {-1, 4});
}

TEST(Numerics, DenormalsAreFlushedAndTheCallersModeRestored) {
  const float tiny = std::numeric_limits<float>::denorm_min() * 1000.0f;
  ASSERT_TRUE(std::fpclassify(tiny) == FP_SUBNORMAL);
  for (const bool sparse : {false, true}) {
    for (const int batch : {1, 16}) {
      EngineOptions options;
      options.num_threads = 1;
      options.kernel_selection =
          EngineOptions::KernelSelection::kSparsityThreshold;
      options.sparse_kernel_min_sparsity = 0.0;
      options.force_dense = !sparse;
      const Engine engine = Engine::load(ones_model(sparse), options);
      std::vector<float> x(static_cast<size_t>(batch) * 4, tiny);
      const unsigned before = float_mode();
      const auto out = engine.run({{"x", x.data(), {batch, 4}}});
      EXPECT_EQ(float_mode(), before) << "mode not restored";
      // Without flushing, 4 · tiny is a denormal; flushed, it is 0.
      for (float v : out[0].values()) {
        EXPECT_EQ(v, 0.0f) << (sparse ? "sparse" : "dense") << " batch "
                           << batch;
      }
    }
  }
}

}  // namespace
}  // namespace spruce
