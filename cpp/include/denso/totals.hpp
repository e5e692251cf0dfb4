// What a pass over batches sums (loss, correct answers, absolute error), and the one rule that counts
// a batch into it. The compiled plan calls count_batch on its workspace; the graph path calls it through
// _core.count_batch on its own outputs, so the two engines report the same metrics by construction.
#pragma once
#include <cstdint>
#include "denso/types.hpp"

namespace denso {

// The loss a plan fuses with the last layer: the kernel it runs and what its targets are.
//   mse                  targets y (rows × k); the last activation is applied as written
//   bce_logits           targets y in [0, 1]; the sigmoid is fused into the loss
//   softmax_xent_labels  int64 labels; the softmax is fused
//   softmax_xent         probability rows y; the softmax is fused
enum class LossKind { mse, bce_logits, softmax_xent_labels, softmax_xent };

inline bool uses_labels(LossKind kind) { return kind == LossKind::softmax_xent_labels; }

// Sums over the batches of one call; Python turns them into per-sample means (denso.metrics).
struct Totals {
  double loss = 0.0;       // Σ batch_rows · (data loss + penalty)
  double data_loss = 0.0;  // Σ batch_rows · data loss
  double correct = 0.0;    // rows (or elements, for binary outputs) classified correctly
  double abs_error = 0.0;  // Σ |output − target|
  Index rows = 0, batches = 0;
  bool finite = true;      // false: a non-finite loss stopped the call before its update
  Index bad_batch = -1;    // the batch that stopped it
  bool overflowed = false; // the updates left a NaN/inf weight (checked at the end of a call)

  // The sums of two consecutive calls; the first non-finite batch is kept.
  Totals& operator+=(const Totals& o) {
    loss += o.loss;
    data_loss += o.data_loss;
    correct += o.correct;
    abs_error += o.abs_error;
    rows += o.rows;
    batches += o.batches;
    if (finite && !o.finite) {
      finite = false;
      bad_batch = o.bad_batch;
    }
    overflowed = overflowed || o.overflowed;
    return *this;
  }
};

// Adds one batch to `t`: its loss weighted by its rows, and its metric counts. `z` holds the last
// layer's outputs before any fused activation (logits), `y` the targets (unused with labels).
// A class is the argmax of a row; a binary output counts as 1 when its logit is > 0 (probability
// > 0.5) and its target when it is >= 0.5, so probability targets count too.
template <class T>
void count_batch(LossKind kind, CMatRef<T> z, CMatRef<T> y, const std::int64_t* labels, double data_loss,
                 double penalty, Totals& t) {
  const Index rows = z.rows();
  t.loss += rows * (data_loss + penalty);
  t.data_loss += rows * data_loss;
  t.rows += rows;
  t.batches += 1;
  Index predicted, expected;
  switch (kind) {
    case LossKind::softmax_xent_labels:
      for (Index r = 0; r < rows; ++r) t.correct += (z.row(r).maxCoeff(&predicted), predicted == labels[r]);
      break;
    case LossKind::softmax_xent:
      for (Index r = 0; r < rows; ++r) {
        z.row(r).maxCoeff(&predicted);
        y.row(r).maxCoeff(&expected);
        t.correct += (predicted == expected);
      }
      break;
    case LossKind::bce_logits:
      t.correct += ((z.array() > T(0)) == (y.array() >= T(0.5))).count();
      break;
    case LossKind::mse:
      t.abs_error += (z - y).array().abs().template cast<double>().sum();
      break;
  }
}

}  // namespace denso
