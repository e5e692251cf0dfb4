// Counter-based random numbers: value i of stream (seed, stream, counter) is a pure function of
// those keys, so masks and shuffles do not depend on thread count or call order.
#pragma once
#include <cmath>
#include <cstdint>
#include <utility>
#include "denso/types.hpp"

namespace denso {

// splitmix64's finaliser: a bijective 64-bit mix with good avalanche.
inline std::uint64_t mix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Streams: one per use, so the permutation and each layer's masks never share numbers.
constexpr std::uint64_t kStreamShuffle = 1;
inline std::uint64_t dropout_stream(Index layer) { return 1000 + static_cast<std::uint64_t>(layer); }
inline std::uint64_t noise_stream(Index layer) { return 2000 + static_cast<std::uint64_t>(layer); }

struct CounterRng {
  std::uint64_t key;
  CounterRng(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter)
      : key(mix64(mix64(mix64(seed) ^ stream) ^ counter)) {}
  // Uniform in [0, 1) with 53 random bits.
  double uniform(std::uint64_t i) const { return static_cast<double>(mix64(key ^ mix64(i)) >> 11) * 0x1.0p-53; }
  // Standard normal by Box–Muller from uniforms 2i and 2i+1.
  double normal(std::uint64_t i) const {
    const double u1 = 1.0 - uniform(2 * i), u2 = uniform(2 * i + 1);  // u1 in (0, 1]
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
};

// out = a uniformly random permutation of 0..n-1 (Fisher–Yates), keyed by (seed, epoch).
inline void shuffled_indices(std::uint64_t seed, std::uint64_t epoch, Index n, std::int64_t* out) {
  for (Index i = 0; i < n; ++i) out[i] = i;
  const CounterRng rng(seed, kStreamShuffle, epoch);
  for (Index i = n - 1; i > 0; --i) {
    const auto j = static_cast<Index>(rng.uniform(static_cast<std::uint64_t>(i)) * static_cast<double>(i + 1));
    std::swap(out[i], out[j < i ? j : i]);
  }
}

}  // namespace denso
