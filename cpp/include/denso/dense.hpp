// Dense layer kernels: three pure functions over caller-owned row-major views, no allocation.
#pragma once
#include <algorithm>
#include "denso/activations.hpp"
#include "denso/gemm.hpp"
#include "denso/types.hpp"

namespace denso {

// A = g(X·W + b).  X: batch × in, W: in × out, b: out (or null), A: batch × out. `inference`: a
// 1-row product may be split over the threads too (see kSplitVectorMinWork). `pre` (batch × out, or
// null) receives Z = X·W + b, which backward needs for the activations that need_preactivation.
template <class T>
void dense_forward(CMatRef<T> X, CMatRef<T> W, const T* bias, Activation act, T alpha, MatRef<T> A,
                   bool inference = false, T* pre = nullptr) {
  matmul<T>(X, W, A, false, inference);
  bias_activate<T>(A, bias, act, alpha, pre);
}

// dW (+)= Xᵀ·G (in × out);  db (+)= Σ_rows G (out).  `accumulate` adds instead of overwriting.
// Below kRankUpdateRows samples, dW is a few rank-1 updates: a row sweep beats GEMM's packing.
constexpr Index kRankUpdateRows = 2;

template <class T>
void dense_backward_params(CMatRef<T> X, CMatRef<T> G, MatRef<T> dW, T* dbias, bool accumulate) {
  if (X.rows() <= kRankUpdateRows) {
    for (Index i = 0; i < X.cols(); ++i) {  // dW_i = Σ_r X(r, i) · G_r
      auto row = dW.row(i);
      if (!accumulate) row.setZero();
      for (Index r = 0; r < X.rows(); ++r) row += X(r, i) * G.row(r);
    }
  } else {
    matmul_tn<T>(X, G, dW, accumulate);
  }
  if (!dbias) return;
  MapVec<T> db(dbias, G.cols());
  if (!accumulate) db.setZero();
  for (Index i = 0; i < G.rows(); ++i) db += G.row(i);  // row sweeps stay contiguous
}

// dX (+)= G·Wᵀ (batch × in).  Skipped for the first layer, whose input needs no gradient.
template <class T>
void dense_backward_input(CMatRef<T> G, CMatRef<T> W, MatRef<T> dX, bool accumulate) {
  matmul_nt<T>(G, W, dX, accumulate);
}

}  // namespace denso
