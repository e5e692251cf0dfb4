// Flush denormal floats to zero while a kernel runs. Denormals cost ~100x on x86 and do appear in
// training: Adam's moments of units that stop receiving gradient decay geometrically toward 0.
#pragma once
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define DENSO_HAVE_MXCSR 1
#endif

namespace denso {

// RAII: sets FTZ (flush-to-zero) and DAZ (denormals-are-zero) on this thread, restores on exit.
class FlushDenormals {
 public:
#ifdef DENSO_HAVE_MXCSR
  FlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040u); }
  ~FlushDenormals() { _mm_setcsr(saved_); }

 private:
  unsigned saved_;
#else
  FlushDenormals() = default;
#endif
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;
};

}  // namespace denso
