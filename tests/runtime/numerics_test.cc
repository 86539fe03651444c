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
#include "team_leader.h"
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

// y[?, out] = x[?, in] · Wᵀ with W all ones, no bias; weights sparse or
// dense.
std::string ones_model(bool sparse, int64_t out = 3, int64_t in = 4) {
  WeightDef w;
  w.name = "w";
  w.shape = {out, in};
  std::vector<float> ones(static_cast<size_t>(out * in), 1.0f);
  if (sparse) {
    w.format = converters::WeightFormat::kCsr;
    w.csr = CsrMatrix::from_dense(ones.data(), static_cast<size_t>(out),
                                  static_cast<size_t>(in));
  } else {
    w.dense = ones;
  }
  return testing::write_linear_model(
      (sparse ? "ones_sparse_" : "ones_dense_") + std::to_string(out) + "x" +
          std::to_string(in) + ".spruce",
      std::move(w), {}, kernels::Activation::kNone, {-1, in});
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

// On two threads oneDNN splits a 256 × 256 product between the team leader
// and its OpenMP worker; the worker's share must be flushed too, and the
// calling thread's own OpenMP workers left in their mode.
TEST(Numerics, DenormalsAreFlushedOnOneDnnWorkerThreads) {
  const float tiny = std::numeric_limits<float>::denorm_min() * 1000.0f;
  constexpr int64_t kSize = 256;
  // This thread's own OpenMP worker exists before the run, in this thread's
  // mode: the last check sees whether spruce left it flushed.
  auto denormal_on_every_thread = [tiny] {
    int kept = 0;
#pragma omp parallel num_threads(2) reduction(+ : kept)
    {
      volatile float a = tiny;
      kept += std::fpclassify(a * 2.0f) == FP_SUBNORMAL;
    }
    return kept == 2;
  };
  // The ThreadSanitizer build runs oneDNN on one thread and cannot see
  // libgomp: there, only the run through the leader is checked, not the
  // OpenMP workers.
  constexpr bool kOpenMpWorkers =
#ifdef __SANITIZE_THREAD__
      false;
#else
      true;
#endif
  if (kOpenMpWorkers) {
    ASSERT_TRUE(denormal_on_every_thread());
    // And the team leader's workers exist before the run too, in the mode
    // the leader gave them (were that not flush-to-zero, a run creating
    // them would still pass them its own).
    TeamLeader::get().run([] {
#pragma omp parallel num_threads(2)
      { (void)0; }
    });
  }
  EngineOptions options;
  options.num_threads = 2;
  options.force_dense = true;
  const Engine engine =
      Engine::load(ones_model(/*sparse=*/false, kSize, kSize), options);
  std::vector<float> x(static_cast<size_t>(kSize * kSize), tiny);
  const unsigned before = float_mode();
  for (int repeat = 0; repeat < 3; ++repeat) {
    const auto out = engine.run({{"x", x.data(), {kSize, kSize}}});
    size_t unflushed = 0;
    for (float v : out[0].values()) unflushed += v != 0.0f;
    EXPECT_EQ(unflushed, 0u) << "of " << out[0].size() << " outputs";
  }
  EXPECT_EQ(float_mode(), before);
  if (kOpenMpWorkers) {
    EXPECT_TRUE(denormal_on_every_thread()) << "a worker left flushed";
  }
}

}  // namespace
}  // namespace spruce
