// Activations as row passes: "add bias + activate" forward, "multiply by g'" backward.
// Backward recovers g' from the output A, so forward keeps only A (no Z, no Jacobian).
#pragma once
#include <algorithm>
#include <cmath>
#include "denso/threads.hpp"
#include "denso/types.hpp"

namespace denso {

enum class Activation { identity, relu, leaky_relu, sigmoid, tanh, softmax, step };

// Runs f on `n` values at `data` in blocks copied to a 64-byte-aligned buffer, for the passes whose
// rounding differs between Eigen's SIMD loop and its scalar prologue (exp, tanh, reductions): Eigen
// peels its loops up to the first aligned address, so computing in place would give a value another
// last bit depending on where its row starts. On the buffer the split depends on the index only.
constexpr Index kAlignedBlock = 256;

template <class T>
using AlignedBlock = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>, Eigen::Aligned64>;

template <class T, class F>
inline void over_aligned_blocks(T* data, Index n, F&& f) {
  alignas(64) T buffer[kAlignedBlock];
  for (Index start = 0; start < n; start += kAlignedBlock) {
    const Index len = std::min(kAlignedBlock, n - start);
    std::copy(data + start, data + start + len, buffer);
    f(AlignedBlock<T>(buffer, len), start);
    std::copy(buffer, buffer + len, data + start);
  }
}

// p = exp(z - max z) / Σ exp(z - max z) over one contiguous row; the sum in a fixed block order.
template <class T>
inline void softmax_row(T* z, Index n) {
  const T m = CMapVec<T>(z, n).maxCoeff();  // a max is exact in any order
  T sum = T(0);
  over_aligned_blocks<T>(z, n, [&](AlignedBlock<T> a, Index) {
    a = (a - m).exp();
    sum += a.sum();
  });
  over_aligned_blocks<T>(z, n, [&](AlignedBlock<T> a, Index) { a /= sum; });
}

// The piecewise-linear activations as plain loops over contiguous values: GCC vectorises the
// conditionals into blends, where Eigen 3.4's select() runs one scalar at a time. `z <= 0 → 0` rather
// than max(z, 0): under DAZ a negative subnormal compares equal to 0, and max would return it
// (negative) or 0 depending on the SIMD lane. NaN stays NaN. `bias` may be null.
template <class T>
inline void piecewise_forward(T* a, const T* bias, Index n, Activation act, T alpha) {
  for (Index j = 0; j < n; ++j) {
    const T z = bias ? a[j] + bias[j] : a[j];
    if (act == Activation::relu) a[j] = z <= T(0) ? T(0) : z;
    else if (act == Activation::leaky_relu) a[j] = z > T(0) ? z : alpha * z;
    else a[j] = z;
  }
}

// g ⊙= g'(z) for the piecewise-linear activations, from their outputs a (a > 0 exactly where z > 0).
template <class T>
inline void piecewise_backward(const T* a, T* g, Index n, Activation act, T alpha) {
  if (act == Activation::relu)
    for (Index j = 0; j < n; ++j) g[j] = a[j] > T(0) ? g[j] : T(0);  // g'(0) = 0
  else if (act == Activation::leaky_relu)
    for (Index j = 0; j < n; ++j) g[j] = a[j] > T(0) ? g[j] : alpha * g[j];
}

// A_row = g(A_row), in place on one contiguous row.
template <class T, class Row>
inline void activate_row(Row r, Activation act, T alpha) {
  auto a = r.array();
  T* data = r.data();
  const Index n = r.size();
  switch (act) {
    case Activation::identity: break;
    case Activation::relu:
    case Activation::leaky_relu: piecewise_forward<T>(data, nullptr, n, act, alpha); break;
    // 1/(1+e^-z) saturates cleanly to 0 or 1 in IEEE arithmetic: no NaN for |z| large.
    case Activation::sigmoid:
      over_aligned_blocks<T>(data, n, [](AlignedBlock<T> b, Index) { b = T(1) / (T(1) + (-b).exp()); });
      break;
    case Activation::tanh:
      over_aligned_blocks<T>(data, n, [](AlignedBlock<T> b, Index) { b = b.tanh(); });
      break;
    case Activation::softmax: softmax_row<T>(data, n); break;
    case Activation::step: a = (a > T(0)).template cast<T>(); break;
  }
}

// G_row = dA_row ⊙ g'(z), g' recovered from the activation output A_row, in place on G (aligned
// blocks where rounding could depend on the address, as in the forward pass).
template <class T, class RowA, class RowG>
inline void activation_grad_row(const RowA& arow, RowG grow, Activation act, T alpha) {
  auto g = grow.array();
  const T* ad = arow.data();
  T* gd = grow.data();
  const Index n = grow.size();
  switch (act) {
    case Activation::identity: break;
    case Activation::relu:
    case Activation::leaky_relu: piecewise_backward<T>(ad, gd, n, act, alpha); break;
    case Activation::sigmoid:
      over_aligned_blocks<T>(gd, n, [&](AlignedBlock<T> b, Index s) {
        const auto x = CMapVec<T>(ad + s, b.size()).transpose().array();
        b *= x * (T(1) - x);
      });
      break;
    case Activation::tanh:
      over_aligned_blocks<T>(gd, n, [&](AlignedBlock<T> b, Index s) {
        const auto x = CMapVec<T>(ad + s, b.size()).transpose().array();
        b *= T(1) - x.square();
      });
      break;
    case Activation::softmax: {  // Jacobian-vector product: g = a ⊙ (g − ⟨g, a⟩)
      T dot = T(0);
      over_aligned_blocks<T>(gd, n, [&](AlignedBlock<T> b, Index s) {
        dot += (b * CMapVec<T>(ad + s, b.size()).transpose().array()).sum();
      });
      over_aligned_blocks<T>(gd, n, [&](AlignedBlock<T> b, Index s) {
        const auto x = CMapVec<T>(ad + s, b.size()).transpose().array();
        b = x * (b - dot);
      });
      break;
    }
    case Activation::step: g.setZero(); break;  // zero almost everywhere: step cannot be trained
  }
}

// Whether g is piecewise linear: g and g' are then elementwise selects, cheap enough that a second
// pass over the matrix (bias add, then activation) or Eigen's per-row setup costs as much as the work.
inline bool piecewise_linear(Activation act) {
  return act == Activation::identity || act == Activation::relu || act == Activation::leaky_relu;
}

// A_row = g(A_row + b) in one pass for the piecewise-linear activations (the same values as adding
// first, then activating); the others add the bias, then run activate_row.
template <class T, class Row>
inline void bias_activate_row(Row r, const T* bias, Activation act, T alpha) {
  if (piecewise_linear(act)) return piecewise_forward<T>(r.data(), bias, r.size(), act, alpha);
  if (bias) r += CMapVec<T>(bias, r.size());
  activate_row<T>(r, act, alpha);
}

// A = g(A + b) row by row (b may be null: no bias). A: batch × units.
template <class T>
void bias_activate(MatRef<T> A, const T* bias, Activation act, T alpha) {
  const Index rows = A.rows(), cols = A.cols();
  parallel_for(rows, rows * cols, [&](Index begin, Index end) {
    for (Index i = begin; i < end; ++i) bias_activate_row<T>(A.row(i), bias, act, alpha);
  });
}

// G = G ⊙ g'(Z) with g' taken from A (same shape as G), in place. Contiguous matrices with a
// piecewise-linear g take one flat pass (g' is elementwise, rows do not matter).
template <class T>
void activation_backward(CMatRef<T> A, MatRef<T> G, Activation act, T alpha) {
  if (act == Activation::identity) return;
  const Index rows = G.rows(), cols = G.cols();
  if (piecewise_linear(act) && A.outerStride() == cols && G.outerStride() == cols) {
    parallel_for(rows * cols, [&](Index begin, Index end) {
      activation_grad_row<T>(CMapVec<T>(A.data() + begin, end - begin), MapVec<T>(G.data() + begin, end - begin),
                             act, alpha);
    });
    return;
  }
  parallel_for(rows, rows * cols, [&](Index begin, Index end) {
    for (Index i = begin; i < end; ++i) activation_grad_row<T>(A.row(i), G.row(i), act, alpha);
  });
}

}  // namespace denso
