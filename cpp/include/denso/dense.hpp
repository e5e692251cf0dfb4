// Dense layer kernels: three pure functions over caller-owned row-major views, no allocation.
#pragma once
#include <algorithm>
#include "denso/activations.hpp"
#include "denso/threads.hpp"
#include "denso/types.hpp"

namespace denso {

// Below this many samples Eigen's parallel GEMM has too few rows to share out, so the team splits
// the output's columns instead (each thread's product then runs single-threaded: Eigen does not
// nest inside a parallel region). Blocks are multiples of 16 columns to keep full SIMD lanes.
constexpr Index kSplitColumnsBelowRows = 64;
// At 1-2 samples a product is a matrix-vector pass: splitting it moves weights between the cores'
// caches (the optimizer pass leaves each core owning a contiguous half), which costs more than it saves.
constexpr Index kSplitColumnsFromRows = 2;
constexpr double kSplitMinWork = 1 << 16;  // rows · cols · depth multiply-adds

// f(first_col, n_cols) over column blocks of `cols`, in parallel when the product is worth it.
template <class F>
void for_column_blocks(Index rows, Index cols, Index depth, F&& f) {
  const int threads = get_num_threads();
  const double work = double(rows) * double(cols) * double(depth);
  if (threads < 2 || rows <= kSplitColumnsFromRows || rows >= kSplitColumnsBelowRows || work < kSplitMinWork ||
      cols < 32) {
    f(Index(0), cols);
    return;
  }
  run_team(threads, [&](Index t, Index nt) {
    const Index blocks = (cols + 15) / 16;
    const Index c0 = std::min(cols, blocks * t / nt * 16), c1 = std::min(cols, blocks * (t + 1) / nt * 16);
    if (c1 > c0) f(c0, c1 - c0);
  });
}

// A = g(X·W + b).  X: batch × in, W: in × out, b: out (or null), A: batch × out.
template <class T>
void dense_forward(CMatRef<T> X, CMatRef<T> W, const T* bias, Activation act, T alpha, MatRef<T> A) {
  for_column_blocks(X.rows(), W.cols(), X.cols(),
                    [&](Index c, Index n) { A.middleCols(c, n).noalias() = X * W.middleCols(c, n); });
  bias_activate<T>(A, bias, act, alpha);
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
    for_column_blocks(X.rows(), G.cols(), X.cols(), [&](Index c, Index n) {
      if (accumulate)
        dW.middleCols(c, n).noalias() += X.transpose() * G.middleCols(c, n);
      else
        dW.middleCols(c, n).noalias() = X.transpose() * G.middleCols(c, n);
    });
  }
  if (!dbias) return;
  MapVec<T> db(dbias, G.cols());
  if (!accumulate) db.setZero();
  for (Index i = 0; i < G.rows(); ++i) db += G.row(i);  // row sweeps stay contiguous
}

// dX (+)= G·Wᵀ (batch × in).  Skipped for the first layer, whose input needs no gradient.
template <class T>
void dense_backward_input(CMatRef<T> G, CMatRef<T> W, MatRef<T> dX, bool accumulate) {
  for_column_blocks(G.rows(), W.rows(), G.cols(), [&](Index c, Index n) {  // dX's columns = W's rows
    if (accumulate)
      dX.middleCols(c, n).noalias() += G * W.middleRows(c, n).transpose();
    else
      dX.middleCols(c, n).noalias() = G * W.middleRows(c, n).transpose();
  });
}

}  // namespace denso
