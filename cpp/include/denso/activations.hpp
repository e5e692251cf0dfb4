// Activations as row passes: "add bias + activate" forward, "multiply by g'" backward.
// Backward recovers g' from the output A where g' is a function of it (relu, sigmoid, tanh, elu, selu,
// softplus, ...), so forward keeps only A. gelu and swish are not monotone: their g' needs the
// pre-activation Z, which forward then also writes (needs_preactivation; no Jacobian either way).
#pragma once
#include <algorithm>
#include <cmath>
#include "denso/threads.hpp"
#include "denso/types.hpp"

namespace denso {

enum class Activation { identity, relu, leaky_relu, sigmoid, tanh, softmax, step, gelu, elu, selu, softplus, swish };

// Whether backward needs the pre-activation Z besides the output A (g' is not a function of A).
inline bool needs_preactivation(Activation act) { return act == Activation::gelu || act == Activation::swish; }

// SELU's constants (Klambauer et al.; PyTorch's and Keras's): λ·(z > 0 ? z : α(e^z − 1)).
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

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

// Whether g is piecewise linear: g and g' are then elementwise selects, cheap enough that a second
// pass over the matrix (bias add, then activation) or Eigen's per-row setup costs as much as the work.
inline bool piecewise_linear(Activation act) {
  return act == Activation::identity || act == Activation::relu || act == Activation::leaky_relu;
}

// z > 0 ? scale·z : coef·(e^z − 1) in place (elu: scale 1, coef α; selu: λ and λα).
template <class T>
inline void elu_block(T* data, Index n, T scale, T coef) {
  over_aligned_blocks<T>(data, n, [=](AlignedBlock<T> b, Index) {
    b = (b > T(0)).select(scale * b, coef * b.expm1());
  });
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
    case Activation::gelu:  // z·Φ(z) = ½z(1 + erf(z/√2)), the exact form (PyTorch approximate='none')
      over_aligned_blocks<T>(data, n, [](AlignedBlock<T> b, Index) {
        for (Index j = 0; j < b.size(); ++j) b[j] = T(0.5) * b[j] * (T(1) + std::erf(b[j] * T(M_SQRT1_2)));
      });
      break;
    case Activation::elu: elu_block<T>(data, n, T(1), alpha); break;
    case Activation::selu: elu_block<T>(data, n, T(kSeluScale), T(kSeluScale * kSeluAlpha)); break;
    case Activation::softplus:  // log(1 + e^z) = max(z, 0) + log1p(e^−|z|): no overflow for large z
      over_aligned_blocks<T>(data, n, [](AlignedBlock<T> b, Index) { b = b.max(T(0)) + (-b.abs()).exp().log1p(); });
      break;
    case Activation::swish:  // z·σ(z)
      over_aligned_blocks<T>(data, n, [](AlignedBlock<T> b, Index) { b = b / (T(1) + (-b).exp()); });
      break;
  }
}

// G_row = dA_row ⊙ g'(z), g' recovered from the activation output A_row, or, for the activations
// that need_preactivation, from the pre-activation row `zd`; in place on G (aligned blocks where
// rounding could depend on the address, as in the forward pass).
template <class T, class RowA, class RowG>
inline void activation_grad_row(const RowA& arow, const T* zd, RowG grow, Activation act, T alpha) {
  auto a = arow.array();
  auto g = grow.array();
  const T* ad = arow.data();
  T* gd = grow.data();
  const Index n = grow.size();
  // The block of A (or Z) that lies under the gradient block b starting at s.
  auto under = [](const T* src, AlignedBlock<T>& b, Index s) {
    return CMapVec<T>(src + s, b.size()).transpose().array();
  };
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
    // z ≤ 0: coef·e^z = a + coef (at z = 0 too, as PyTorch takes it); z > 0: scale.
    case Activation::elu: g = (a > T(0)).select(g, g * (a + alpha)); break;
    case Activation::selu:
      g = (a > T(0)).select(T(kSeluScale) * g, g * (a + T(kSeluScale * kSeluAlpha)));
      break;
    case Activation::softplus:  // σ(z) = 1 − e^−a, as −expm1(−a): exact also where σ(z) ≈ e^z is tiny
      over_aligned_blocks<T>(gd, n, [&](AlignedBlock<T> b, Index s) { b *= -(-under(ad, b, s)).expm1(); });
      break;
    case Activation::gelu:  // Φ(z) + z·φ(z)
      over_aligned_blocks<T>(gd, n, [&](AlignedBlock<T> b, Index s) {
        for (Index j = 0; j < b.size(); ++j) {
          const T z = zd[s + j];
          const T cdf = T(0.5) * (T(1) + std::erf(z * T(M_SQRT1_2)));
          b[j] *= cdf + z * std::exp(T(-0.5) * z * z) * T(0.5 * M_2_SQRTPI * M_SQRT1_2);
        }
      });
      break;
    case Activation::swish: {  // σ(z)·(1 + z(1 − σ(z))), σ in a second aligned buffer (no allocation)
      alignas(64) T sigmoid[kAlignedBlock];
      over_aligned_blocks<T>(gd, n, [&](AlignedBlock<T> b, Index s) {
        const auto z = under(zd, b, s);
        AlignedBlock<T> sig(sigmoid, b.size());
        sig = T(1) / (T(1) + (-z).exp());
        b *= sig * (T(1) + z * (T(1) - sig));
      });
      break;
    }
  }
}

// A = g(A + b) row by row (b may be null: no bias). A: batch × units. With `pre` (batch × units,
// row-major, or null) Z = A + b is kept there too, for the backward pass of needs_preactivation.
// The piecewise-linear activations add the bias and activate in one pass (the same values).
template <class T>
void bias_activate(MatRef<T> A, const T* bias, Activation act, T alpha, T* pre = nullptr) {
  const Index rows = A.rows(), cols = A.cols();
  parallel_for(rows, rows * cols, [&](Index begin, Index end) {
    for (Index i = begin; i < end; ++i) {
      auto r = A.row(i);
      if (piecewise_linear(act) && !pre) {
        piecewise_forward<T>(r.data(), bias, cols, act, alpha);
        continue;
      }
      if (bias) r += CMapVec<T>(bias, cols);
      if (pre) std::copy(r.data(), r.data() + cols, pre + i * cols);
      activate_row<T>(r, act, alpha);
    }
  });
}

// G = G ⊙ g'(Z) with g' taken from A, or from Z = `pre` where the activation needs_preactivation (A,
// Z, G all batch × units), in place.
template <class T>
void activation_backward(CMatRef<T> A, const T* pre, MatRef<T> G, Activation act, T alpha) {
  if (act == Activation::identity) return;
  const Index rows = G.rows(), cols = G.cols();
  if (piecewise_linear(act) && A.outerStride() == cols && G.outerStride() == cols) {  // one flat pass
    parallel_for(rows * cols, [&](Index begin, Index end) {
      piecewise_backward<T>(A.data() + begin, G.data() + begin, end - begin, act, alpha);
    });
    return;
  }
  parallel_for(rows, rows * cols, [&](Index begin, Index end) {
    for (Index i = begin; i < end; ++i)
      activation_grad_row<T>(A.row(i), pre ? pre + i * cols : nullptr, G.row(i), act, alpha);
  });
}

// The same for an activation whose g' is a function of A alone (not one that needs_preactivation).
template <class T>
void activation_backward(CMatRef<T> A, MatRef<T> G, Activation act, T alpha) {
  activation_backward<T>(A, nullptr, G, act, alpha);
}

}  // namespace denso
