// Which OpenBLAS kernel set suits this CPU better than the one OpenBLAS would pick itself.
// OpenBLAS reads OPENBLAS_CORETYPE once, when the library loads, so the choice has to be made before
// that: python/denso/_blas_kernel.py makes it (from /proc/cpuinfo) before `denso._core` loads, and
// denso-bench re-executes itself with the variable set. The two implement the same rule; a test
// checks they agree on the machine it runs on.
#pragma once
#include <cpuid.h>
#include <cstring>

namespace denso {

// "Haswell" on AMD Zen 4 (family 25 with AVX-512), else nullptr (keep OpenBLAS's choice).
// Zen 4 runs a 512-bit instruction as two 256-bit halves; OpenBLAS picks its SkylakeX (AVX-512)
// kernels there, but its Haswell (AVX2) sgemm ran denso's products 3-5% faster (denso-bench, 1 and
// 2 threads). Zen 3 (family 25, no AVX-512) already gets Haswell-class kernels; Zen 5 (family 26,
// full-width AVX-512) and Intel CPUs keep OpenBLAS's choice: nothing measured says otherwise.
inline const char* preferred_openblas_coretype() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return nullptr;
  char vendor[13] = {};
  std::memcpy(vendor, &ebx, 4);
  std::memcpy(vendor + 4, &edx, 4);
  std::memcpy(vendor + 8, &ecx, 4);
  if (std::strcmp(vendor, "AuthenticAMD") != 0 || !__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return nullptr;
  const unsigned base = (eax >> 8) & 0xF, family = base == 0xF ? base + ((eax >> 20) & 0xFF) : base;
  __builtin_cpu_init();
  return family == 25 && __builtin_cpu_supports("avx512f") ? "Haswell" : nullptr;
}

}  // namespace denso
