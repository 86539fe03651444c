// Denormal floats as zero while spruce computes.
//
// Pruned and fine-tuned weights and the activations they produce can hold
// denormal floats (below 1.2e-38), and x86 cores take a microcode assist of
// about a hundred cycles on each one: a layer full of them runs many times
// slower. Inside Engine::run, and in each OpenMP thread of spruce's own
// kernels, flush-to-zero (results) and denormals-are-zero (inputs) are set
// and the thread's previous mode restored afterwards, so the caller's
// floating-point environment is unchanged. oneDNN's own threads follow
// whatever mode they run with (their JIT kernels do not set it).
#ifndef SPRUCE_RUNTIME_DENORMALS_H_
#define SPRUCE_RUNTIME_DENORMALS_H_

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace spruce {

class ScopedFlushDenormals {
 public:
#if defined(__x86_64__) || defined(__i386__)
  // MXCSR bits: FTZ (15) and DAZ (6).
  static constexpr unsigned kBits = 0x8040;
  ScopedFlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kBits); }
  ~ScopedFlushDenormals() { _mm_setcsr(saved_); }
#elif defined(__aarch64__)
  // FPCR.FZ (bit 24) flushes both inputs and results on AArch64.
  ScopedFlushDenormals() : saved_(__builtin_aarch64_get_fpcr()) {
    __builtin_aarch64_set_fpcr(saved_ | (1u << 24));
  }
  ~ScopedFlushDenormals() { __builtin_aarch64_set_fpcr(saved_); }
#else
  ScopedFlushDenormals() = default;
#endif
  ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
  ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

 private:
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
  unsigned saved_;
#endif
};

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_DENORMALS_H_
