// Weight penalties and input transforms used during training (dropout, Gaussian noise).
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include "denso/finite.hpp"
#include "denso/rng.hpp"
#include "denso/threads.hpp"
#include "denso/types.hpp"

namespace denso {

// sign(v) as a value of T: −1, 0 or 1.
template <class T>
inline T sign_of(T v) {
  return T((v > T(0)) - (v < T(0)));
}

// l2·ΣW² + l1·Σ|W|, and with WithGrad also grad += 2·l2·W + l1·sign(W). Fixed blocks, each summed in
// kLanes interleaved double accumulators (independent lanes, so the compiler vectorises the loop; one
// sequential double sum kept it scalar, ~7% of a Fashion-MNIST step) and then in order: the value
// depends on neither the thread count nor the alignment.
template <class T, bool WithGrad>
double weight_penalty_pass(const T* w, T* grad, Index n, double l1, double l2) {
  if (l1 == 0.0 && l2 == 0.0) return 0.0;
  const T c1 = T(l1), c2 = T(2 * l2);
  constexpr Index blocks = 16, kLanes = 16;
  std::array<double, blocks> sq{}, abs{};
  parallel_for(blocks, n, [&](Index first, Index last) {
    for (Index b = first; b < last; ++b) {
      std::array<double, kLanes> s{}, a{};
      const Index lo = n * b / blocks, hi = n * (b + 1) / blocks;
      auto visit = [&](Index i, Index lane) {
        const T v = w[i];
        if constexpr (WithGrad) grad[i] += c2 * v + c1 * sign_of(v);
        s[lane] += double(v) * double(v);
        a[lane] += std::abs(double(v));
      };
      Index i = lo;
      for (; i + kLanes <= hi; i += kLanes)
        for (Index lane = 0; lane < kLanes; ++lane) visit(i + lane, lane);
      for (Index lane = 0; i < hi; ++i, ++lane) visit(i, lane);
      for (Index lane = 0; lane < kLanes; ++lane) {
        sq[b] += s[lane];
        abs[b] += a[lane];
      }
    }
  });
  double sq_total = 0.0, abs_total = 0.0;
  for (Index b = 0; b < blocks; ++b) {
    sq_total += sq[b];
    abs_total += abs[b];
  }
  return l2 * sq_total + l1 * abs_total;
}

// grad += 2·l2·W + l1·sign(W);  returns the penalty l2·ΣW² + l1·Σ|W|.  (biases are not penalised)
template <class T>
double add_weight_penalty(const T* w, T* grad, Index n, double l1, double l2) {
  return weight_penalty_pass<T, true>(w, grad, n, l1, l2);
}

// The penalty alone (the fused small-batch update adds its gradient on the fly).
template <class T>
double weight_penalty(const T* w, Index n, double l1, double l2) {
  return weight_penalty_pass<T, false>(w, nullptr, n, l1, l2);
}

// Inverted dropout: mask_i = 1/(1−p) with probability 1−p else 0 (uniform_i < p drops);
// x ⊙= mask. Element (r, c) of the batch matrix uses counter (row_offset + r)·cols + c of the
// (seed, layer, step) stream: a shard of a batch whose first row is the batch's row `row_offset`
// (data-parallel training) draws the numbers the whole batch gives those rows.
template <class T>
void dropout_forward(std::uint64_t seed, Index layer, std::uint64_t step, double rate, MatRef<T> x, MatRef<T> mask,
                     Index row_offset = 0) {
  const CounterRng rng(seed, dropout_stream(layer), step);
  const T keep_scale = T(1.0 / (1.0 - rate));
  const Index cols = x.cols();
  for (Index r = 0; r < x.rows(); ++r)
    for (Index c = 0; c < cols; ++c) {
      const T m = rng.uniform(static_cast<std::uint64_t>((row_offset + r) * cols + c)) < rate ? T(0) : keep_scale;
      mask(r, c) = m;
      x(r, c) *= m;
    }
}

// Additive Gaussian noise (data augmentation): x += stddev · N(0, 1), keyed like dropout.
template <class T>
void gaussian_noise_forward(std::uint64_t seed, Index layer, std::uint64_t step, double stddev, MatRef<T> x,
                            Index row_offset = 0) {
  const CounterRng rng(seed, noise_stream(layer), step);
  const Index cols = x.cols();
  for (Index r = 0; r < x.rows(); ++r)
    for (Index c = 0; c < cols; ++c)
      x(r, c) += T(stddev * rng.normal(static_cast<std::uint64_t>((row_offset + r) * cols + c)));
}

}  // namespace denso
