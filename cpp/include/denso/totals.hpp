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
//   mae, huber           targets y (rows × k); the last activation is applied as written (like mse)
enum class LossKind { mse, bce_logits, softmax_xent_labels, softmax_xent, mae, huber };

inline bool uses_labels(LossKind kind) { return kind == LossKind::softmax_xent_labels; }

// The regression losses: the last layer's activation runs as written, and a batch counts its errors.
inline bool is_regression(LossKind kind) {
  return kind == LossKind::mse || kind == LossKind::mae || kind == LossKind::huber;
}

// Sums over the batches of one call; Python turns them into per-sample means (denso.metrics).
// With sample weights every row counts with its weight (without, with 1): `weight` is then the
// epoch's denominator instead of `rows`.
struct Totals {
  double loss = 0.0;       // Σ batch_weight · (data loss + penalty)
  double data_loss = 0.0;  // Σ batch_weight · data loss
  double correct = 0.0;    // rows (or elements, for binary outputs) classified correctly, weighted
  double abs_error = 0.0;  // Σ weight · |output − target|
  double sq_error = 0.0;   // Σ weight · (output − target)²
  double weight = 0.0;     // Σ of the rows' weights (= rows without sample weights)
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
    sq_error += o.sq_error;
    weight += o.weight;
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

// Adds one batch to `t`: its loss weighted by its rows' total weight, and its metric counts. `z`
// holds the last layer's outputs before any fused activation (logits), `y` the targets (unused with
// labels), `w` the rows' weights (null: 1 each). A class is the argmax of a row; a binary output
// counts as 1 when its logit is > 0 (probability > 0.5) and its target when it is >= 0.5, so
// probability targets count too.
template <class T>
void count_batch(LossKind kind, CMatRef<T> z, CMatRef<T> y, const std::int64_t* labels, const T* w,
                 double data_loss, double penalty, Totals& t) {
  const Index rows = z.rows();
  auto weight = [w](Index r) { return w ? static_cast<double>(w[r]) : 1.0; };
  double batch_weight = static_cast<double>(rows);
  if (w) {
    batch_weight = 0.0;
    for (Index r = 0; r < rows; ++r) batch_weight += weight(r);
  }
  t.loss += batch_weight * (data_loss + penalty);
  t.data_loss += batch_weight * data_loss;
  t.weight += batch_weight;
  t.rows += rows;
  t.batches += 1;
  Index predicted, expected;
  for (Index r = 0; r < rows; ++r) {
    switch (kind) {
      case LossKind::softmax_xent_labels:
        z.row(r).maxCoeff(&predicted);
        t.correct += weight(r) * (predicted == labels[r]);
        break;
      case LossKind::softmax_xent:
        z.row(r).maxCoeff(&predicted);
        y.row(r).maxCoeff(&expected);
        t.correct += weight(r) * (predicted == expected);
        break;
      case LossKind::bce_logits:
        t.correct += weight(r) * double(((z.row(r).array() > T(0)) == (y.row(r).array() >= T(0.5))).count());
        break;
      case LossKind::mse:
      case LossKind::mae:
      case LossKind::huber:
        t.abs_error += weight(r) * (z.row(r) - y.row(r)).array().abs().template cast<double>().sum();
        t.sq_error += weight(r) * (z.row(r) - y.row(r)).template cast<double>().squaredNorm();
        break;
    }
  }
}

}  // namespace denso
