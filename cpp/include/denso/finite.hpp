// Whether values are finite, as one vectorised pass: a value is NaN or ±inf exactly when its exponent
// bits are all ones, and OR-ing that integer test over a block vectorises (Eigen 3.4's allFinite() and
// a float reduction do not: they ran one value at a time, ~5% of a 1024-row predict).
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include "denso/threads.hpp"
#include "denso/types.hpp"

namespace denso {

namespace detail {

template <class T>
bool all_finite_serial(const T* v, Index n) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "float or double");
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  constexpr Bits exponent = sizeof(T) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000ull);
  constexpr Index block = 4096;  // stop within a block of the first non-finite value
  for (Index start = 0; start < n; start += block) {
    const Index len = std::min(block, n - start);
    Bits bad = 0;
    for (Index i = 0; i < len; ++i) {
      Bits b;
      std::memcpy(&b, v + start + i, sizeof b);
      bad |= Bits((b & exponent) == exponent);
    }
    if (bad) return false;
  }
  return true;
}

}  // namespace detail

// Arrays from kParallelFiniteValues on (fit's x, a whole data set) are scanned by every thread: one
// core reads ~33 GB/s here, and the scan of a 100 MB x is otherwise a visible part of a short fit.
constexpr Index kParallelFiniteValues = Index(1) << 20;

template <class T>
bool all_finite(const T* v, Index n) {
  if (n < kParallelFiniteValues) return detail::all_finite_serial(v, n);
  std::atomic<bool> finite{true};
  parallel_for(n, [&](Index begin, Index end) {
    if (finite.load(std::memory_order_relaxed) && !detail::all_finite_serial(v + begin, end - begin))
      finite.store(false, std::memory_order_relaxed);
  });
  return finite.load();
}

}  // namespace denso
