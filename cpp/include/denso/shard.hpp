// Data-parallel training: which rows of a batch one of `ranks` processes trains, and what the whole
// batch is normalised by. Both engines call this one rule, so they shard identically.
#pragma once
#include <algorithm>
#include <cstdint>
#include "denso/types.hpp"

namespace denso {

// Rows [offset, offset + rows) of a batch, and the whole batch's Σ w (its rows, without weights).
struct Shard {
  Index offset = 0, rows = 0;
  double total = 0.0;
};

// Rank `rank` of `ranks` takes a contiguous slice of the batch `batch` (batch_rows sample indices);
// the first batch_rows % ranks ranks take one row more, so rank 0 always has a row (it adds the
// penalty gradient) and a rank may have none when batch_rows < ranks. The total is summed in batch
// order in double, as the loss kernels sum a whole batch's weights (RowWeights), so one rank's
// total is bit-identical to a single process's.
template <class T>
Shard batch_shard(const T* weights, const std::int64_t* batch, Index batch_rows, Index rank, Index ranks) {
  const Index base = batch_rows / ranks, extra = batch_rows % ranks;
  Shard s;
  s.offset = rank * base + std::min(rank, extra);
  s.rows = base + (rank < extra ? 1 : 0);
  s.total = static_cast<double>(batch_rows);
  if (weights) {
    s.total = 0.0;
    for (Index i = 0; i < batch_rows; ++i) s.total += static_cast<double>(weights[batch[i]]);
  }
  return s;
}

}  // namespace denso
