// Denormal floats as zero while spruce computes.
//
// Pruned and fine-tuned weights and the activations they produce can hold
// denormal floats (below 1.2e-38), and x86 cores take a microcode assist of
// about a hundred cycles on each one: a layer full of them runs many times
// slower. Inside Engine::run, and in each OpenMP thread of spruce's own
// kernels, flush-to-zero (results) and denormals-are-zero (inputs) are set
// and the thread's previous mode restored afterwards, so the caller's
// floating-point environment is unchanged. oneDNN's JIT kernels do not set
// the mode; its OpenMP threads inherit it from the thread that created them,
// which for multi-threaded runs is spruce's team leader (team_leader.h),
// flushed for good.
#ifndef SPRUCE_RUNTIME_DENORMALS_H_
#define SPRUCE_RUNTIME_DENORMALS_H_

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace spruce {

// The calling thread's floating-point control register (x86 MXCSR, Arm
// FPCR), and the same with denormals flushed.
#if defined(__x86_64__) || defined(__i386__)
inline unsigned float_control() { return _mm_getcsr(); }
inline void set_float_control(unsigned mode) { _mm_setcsr(mode); }
// MXCSR bits: FTZ (15) and DAZ (6).
inline unsigned with_flush_denormals(unsigned mode) { return mode | 0x8040u; }
#elif defined(__aarch64__)
inline unsigned float_control() {
  return static_cast<unsigned>(__builtin_aarch64_get_fpcr());
}
inline void set_float_control(unsigned mode) {
  __builtin_aarch64_set_fpcr(mode);
}
// FPCR.FZ (bit 24) flushes both inputs and results on AArch64.
inline unsigned with_flush_denormals(unsigned mode) {
  return mode | (1u << 24);
}
#else
inline unsigned float_control() { return 0; }
inline void set_float_control(unsigned) {}
inline unsigned with_flush_denormals(unsigned mode) { return mode; }
#endif

// Flushes denormals on the calling thread from now on.
inline void set_flush_denormals() {
  set_float_control(with_flush_denormals(float_control()));
}

class ScopedFlushDenormals {
 public:
  ScopedFlushDenormals() : saved_(float_control()) {
    set_float_control(with_flush_denormals(saved_));
  }
  ~ScopedFlushDenormals() { set_float_control(saved_); }
  ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
  ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

 private:
  unsigned saved_;
};

}  // namespace spruce

#endif  // SPRUCE_RUNTIME_DENORMALS_H_
