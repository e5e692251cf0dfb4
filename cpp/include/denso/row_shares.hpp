// A 1-2-row training step split by the rows of every weight matrix. The fused update (Plan::fused_update)
// gives chunk c of nc rows [in·c/nc, in·(c+1)/nc) of each layer's W and the matching part of its
// bias; the thread pool hands a thread the same chunks in every region of the same size. The step's
// two products with W are split the same way, so the thread that updates a row is the one that reads it
// next (in its own core's cache) instead of one thread reading the whole of W, half of it just written
// by the other core. Measured (denso-bench, 784-256-128-10, Adam, 2 threads): a batch-1 step of
// 62-68 µs became 48 µs; 1 thread is unchanged.
#pragma once
#include <algorithm>
#include "denso/threads.hpp"
#include "denso/types.hpp"

namespace denso {

// First row of chunk c of nc over n rows.
inline Index row_share(Index n, Index c, Index nc) { return n * c / nc; }

// The split of a step over `threads` threads in `chunks` chunks (1 and 1: no split).
struct RowShares {
  int threads = 1;
  Index chunks = 1;
};

// The split for a network of n_params parameters: one thread below the size from which flat passes
// over the parameters go parallel, else kChunksPerThread chunks per thread, as those passes use.
inline RowShares row_shares_for(Index n_params) {
  const int threads = pass_threads(n_params);
  return {threads, threads > 1 ? Index(threads) * kChunksPerThread : 1};
}

// A = X·W (X: rows × in, W: in × out) as the sum over chunks c of X[:, rows_c]·W[rows_c, :], each chunk
// into its own block of `partials` (resized if needed, kept between calls), summed in chunk order: the
// result does not depend on which thread ran a chunk.
template <class T>
void matmul_by_row_shares(CMatRef<T> X, CMatRef<T> W, MatRef<T> A, RowShares shares, Matrix<T>& partials) {
  const Index rows = X.rows(), in = W.rows(), out = W.cols(), chunks = shares.chunks;
  if (partials.rows() < chunks * rows || partials.cols() < out)  // grows only: no churn between layers
    partials.resize(std::max(partials.rows(), chunks * rows), std::max(partials.cols(), out));
  run_team(shares.threads, chunks, [&](Index c, Index nc) {
    const Index i0 = row_share(in, c, nc), i1 = row_share(in, c + 1, nc);
    auto part = partials.block(c * rows, 0, rows, out);
    if (i1 > i0)
      part.noalias() = X.middleCols(i0, i1 - i0) * W.middleRows(i0, i1 - i0);
    else
      part.setZero();
  });
  A = partials.block(0, 0, rows, out);
  for (Index c = 1; c < chunks; ++c) A += partials.block(c * rows, 0, rows, out);
}

// dX = G·Wᵀ (G: rows × out, dX: rows × in), chunk c writing the columns rows_c of dX from W[rows_c, :]:
// each value is one dot product, as in the unsplit product.
template <class T>
void matmul_nt_by_row_shares(CMatRef<T> G, CMatRef<T> W, MatRef<T> dX, RowShares shares) {
  const Index in = W.rows();
  run_team(shares.threads, shares.chunks, [&](Index c, Index nc) {
    const Index i0 = row_share(in, c, nc), i1 = row_share(in, c + 1, nc);
    if (i1 > i0) dX.middleCols(i0, i1 - i0).noalias() = G * W.middleRows(i0, i1 - i0).transpose();
  });
}

}  // namespace denso
