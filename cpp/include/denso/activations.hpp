// Activations as row passes: "add bias + activate" forward, "multiply by g'" backward.
// Backward recovers g' from the output A, so forward keeps only A (no Z, no Jacobian).
#pragma once
#include <cmath>
#include "denso/threads.hpp"
#include "denso/types.hpp"

namespace denso {

enum class Activation { identity, relu, leaky_relu, sigmoid, tanh, softmax, step };

// A_row = g(A_row), in place on one contiguous row.
template <class T, class Row>
inline void activate_row(Row r, Activation act, T alpha) {
  auto a = r.array();
  switch (act) {
    case Activation::identity: break;
    case Activation::relu: a = a.max(T(0)); break;
    case Activation::leaky_relu: a = (a > T(0)).select(a, alpha * a); break;
    // 1/(1+e^-z) saturates cleanly to 0 or 1 in IEEE arithmetic: no NaN for |z| large.
    case Activation::sigmoid: a = T(1) / (T(1) + (-a).exp()); break;
    case Activation::tanh: a = a.tanh(); break;
    case Activation::softmax: {  // p = exp(z - max z) / sum exp(z - max z)
      const T m = a.maxCoeff();
      a = (a - m).exp();
      a /= a.sum();
      break;
    }
    case Activation::step: a = (a > T(0)).template cast<T>(); break;
  }
}

// G_row = dA_row ⊙ g'(z), g' recovered from the activation output A_row, in place on G.
template <class T, class RowA, class RowG>
inline void activation_grad_row(const RowA& arow, RowG grow, Activation act, T alpha) {
  auto a = arow.array();
  auto g = grow.array();
  switch (act) {
    case Activation::identity: break;
    case Activation::relu: g = (a > T(0)).select(g, T(0)); break;  // g'(0) = 0
    case Activation::leaky_relu: g = (a > T(0)).select(g, alpha * g); break;
    case Activation::sigmoid: g *= a * (T(1) - a); break;
    case Activation::tanh: g *= T(1) - a.square(); break;
    case Activation::softmax: {  // Jacobian-vector product: g = a ⊙ (g − ⟨g, a⟩)
      const T dot = (g * a).sum();
      g = a * (g - dot);
      break;
    }
    case Activation::step: g.setZero(); break;  // zero almost everywhere: step cannot be trained
  }
}

// A = g(A + b) row by row (b may be null: no bias). A: batch × units.
template <class T>
void bias_activate(MatRef<T> A, const T* bias, Activation act, T alpha) {
  const Index rows = A.rows(), cols = A.cols();
  parallel_for(rows, rows * cols, [&](Index begin, Index end) {
    for (Index i = begin; i < end; ++i) {
      auto r = A.row(i);
      if (bias) r += CMapVec<T>(bias, cols);
      activate_row<T>(r, act, alpha);
    }
  });
}

// G = G ⊙ g'(Z) with g' taken from A (same shape as G), in place.
template <class T>
void activation_backward(CMatRef<T> A, MatRef<T> G, Activation act, T alpha) {
  if (act == Activation::identity) return;
  const Index rows = G.rows();
  parallel_for(rows, rows * G.cols(), [&](Index begin, Index end) {
    for (Index i = begin; i < end; ++i) activation_grad_row<T>(A.row(i), G.row(i), act, alpha);
  });
}

}  // namespace denso
