// Batch-averaged losses fused with their gradients. Each returns the loss and, when dZ is
// non-null, writes dLoss/dZ (already divided by the batch) into it. Sums accumulate in double.
// With per-row weights w (sample_weight; null: all 1) the batch loss is the weighted mean
// Σ_r w_r·ℓ_r / Σ_r w_r, and row r's gradient is scaled by w_r / Σ w instead of 1 / n.
#pragma once
#include <cmath>
#include <algorithm>
#include <cstdint>
#include <vector>
#include "denso/types.hpp"

namespace denso {

// `total` of a loss kernel: normalise by the rows' own Σ w (or n). A non-negative total instead
// normalises a shard of a larger batch by the whole batch's Σ w: each row's gradient is then exactly
// the one the whole batch gives it, and the shards' gradients and losses add up to the batch's.
constexpr double kOwnTotal = -1.0;

// How much each row of a batch counts: w_r / Σ w, or 1 / n without weights (a batch whose weights
// are all zero counts for nothing: loss 0, gradient 0).
template <class T>
struct RowWeights {
  const T* w;
  double total;  // Σ w (or n), or the given batch total
  RowWeights(const T* weights, Index rows, double batch_total = kOwnTotal)
      : w(weights), total(static_cast<double>(rows)) {
    if (batch_total >= 0.0) {
      total = batch_total;
      return;
    }
    if (!w) return;
    total = 0.0;
    for (Index r = 0; r < rows; ++r) total += static_cast<double>(w[r]);
  }
  // 1 / (Σ w · per_row): the scale of a mean over `per_row` values per row.
  double scale(Index per_row = 1) const { return total > 0.0 ? 1.0 / (total * static_cast<double>(per_row)) : 0.0; }
  double operator[](Index r) const { return w ? static_cast<double>(w[r]) : 1.0; }
};

// (Weighted) mean over all n·m elements of an elementwise loss: row_loss(i, scale) returns row i's
// summed loss and writes row i of the gradient times `scale` (1/(n·m), or w_i/(Σw·m)).
template <class T, class RowLoss>
double elementwise_mean(Index rows, Index cols, const T* w, double batch_total, RowLoss row_loss) {
  const RowWeights<T> weights(w, rows, batch_total);
  const double scale = weights.scale(cols);
  double total = 0.0;
  for (Index i = 0; i < rows; ++i) total += weights[i] * row_loss(i, scale * weights[i]);
  return total * scale;
}

// L = Σ (p − y)² / (n·m);  dP = 2 (p − y) / (n·m).  (PyTorch MSELoss, reduction="mean")
template <class T>
double mse_loss(CMatRef<T> P, CMatRef<T> Y, T* dP, const T* w = nullptr, double total = kOwnTotal) {
  return elementwise_mean<T>(P.rows(), P.cols(), w, total, [&](Index i, double scale) {
    const T* p = P.row(i).data();
    const T* y = Y.row(i).data();
    T* d = dP ? dP + i * P.cols() : nullptr;
    double sq = 0.0;  // no temporary row: this runs for every row of every batch
    for (Index j = 0; j < P.cols(); ++j) {
      const T diff = p[j] - y[j];
      if (d) d[j] = T(2 * scale) * diff;
      sq += double(diff) * double(diff);
    }
    return sq;
  });
}

// L = Σ |p − y| / (n·m);  dP = sign(p − y) / (n·m), sign(0) = 0.  (PyTorch L1Loss, Keras "mae")
template <class T>
double mae_loss(CMatRef<T> P, CMatRef<T> Y, T* dP, const T* w = nullptr, double total = kOwnTotal) {
  return elementwise_mean<T>(P.rows(), P.cols(), w, total, [&](Index i, double scale) {
    const auto diff = (P.row(i) - Y.row(i)).array();  // an expression: read twice, never stored
    if (dP) MapMat<T>(dP, P.rows(), P.cols()).row(i).array() = T(scale) * diff.sign();
    return diff.abs().template cast<double>().sum();
  });
}

// With d = p − y: ℓ = d²/2 where |d| ≤ δ, δ(|d| − δ/2) beyond; L = Σ ℓ / (n·m);
// dP = clamp(d, −δ, δ) / (n·m).  (PyTorch HuberLoss(delta), Keras Huber(delta))
template <class T>
double huber_loss(CMatRef<T> P, CMatRef<T> Y, T* dP, const T* w, double delta, double total = kOwnTotal) {
  const T d_max = T(delta);
  return elementwise_mean<T>(P.rows(), P.cols(), w, total, [&](Index i, double scale) {
    const auto diff = (P.row(i) - Y.row(i)).array();
    if (dP) MapMat<T>(dP, P.rows(), P.cols()).row(i).array() = T(scale) * diff.max(-d_max).min(d_max);
    const auto d = diff.template cast<double>().abs();
    return (d <= delta).select(0.5 * d.square(), delta * (d - 0.5 * delta)).sum();
  });
}

// From logits z: L = mean[max(z,0) − z·y + log(1 + e^{−|z|})];  dZ = (σ(z) − y) / (n·m).
template <class T>
double bce_logits_loss(CMatRef<T> Z, CMatRef<T> Y, T* dZ, const T* w = nullptr, double total = kOwnTotal) {
  return elementwise_mean<T>(Z.rows(), Z.cols(), w, total, [&](Index i, double scale) {
    const auto z = Z.row(i).array();
    const auto y = Y.row(i).array();
    if (dZ) MapMat<T>(dZ, Z.rows(), Z.cols()).row(i).array() = T(scale) * (T(1) / (T(1) + (-z).exp()) - y);
    return (z.max(T(0)) - z * y + (-z.abs()).exp().log1p()).template cast<double>().sum();
  });
}

// Row r's shifted exps e_j = exp(z_j − max z) in double (softmax is e / Σe, log-sum-exp is
// max z + log Σe). Shifted values z − m are exact for the logits that matter, so logits of ±1e4 give
// neither overflow nor the rounding of a 1e4-sized lse.
using RowExps = Eigen::Map<const Eigen::ArrayXd>;

// Shifted exps of a block of rows, one SIMD exp over the whole block: each row is padded to a multiple
// of 8 doubles in an aligned buffer, so every value takes the packet path whatever its row or address
// (per-row exps of cast expressions fell back to scalar libm calls, ~15% of a small network's step).
class SoftmaxBlock {
 public:
  static constexpr Index kValues = 4096;  // per block: the buffer stays in L1/L2
  explicit SoftmaxBlock(Index cols) : cols_(cols), padded_((cols + 7) / 8 * 8) {
    const Index values = rows_per_block() * padded_;
    if (Index(buffer().size()) < values) buffer().resize(values);
    if (Index(maxes().size()) < rows_per_block()) maxes().resize(rows_per_block());
  }
  Index rows_per_block() const { return std::max<Index>(1, kValues / padded_); }

  // Rows [start, start + n) of Z, n <= rows_per_block().
  template <class T>
  void compute(CMatRef<T> Z, Index start, Index n) {
    double* e = buffer().data();
    std::fill(e, e + n * padded_, 0.0);
    for (Index r = 0; r < n; ++r) {
      const auto z = Z.row(start + r);
      const double m = maxes()[r] = static_cast<double>(z.maxCoeff());
      for (Index j = 0; j < cols_; ++j) e[r * padded_ + j] = static_cast<double>(z(j)) - m;
    }
    Eigen::Map<Eigen::ArrayXd, Eigen::AlignedMax> block(e, n * padded_);
    block = block.exp();
  }
  double max(Index r) const { return maxes()[r]; }
  RowExps row(Index r) const { return RowExps(buffer().data() + r * padded_, cols_); }

 private:
  Index cols_, padded_;
  // Per thread and kept between calls: once grown, a loss call allocates nothing.
  static std::vector<double, Eigen::aligned_allocator<double>>& buffer() {
    thread_local std::vector<double, Eigen::aligned_allocator<double>> values;
    return values;
  }
  static std::vector<double>& maxes() {
    thread_local std::vector<double> values;
    return values;
  }
};

// (Weighted) mean over rows of a softmax cross-entropy: row_loss(i, m, e, s, scale) gets row i's max
// m, its shifted exps e and their sum s and row i's gradient scale (1/n or w_i/Σw), writes row i of
// dZ and returns the row's loss.
template <class T, class RowLoss>
double softmax_rows_mean(CMatRef<T> Z, const T* w, double batch_total, RowLoss row_loss) {
  const RowWeights<T> weights(w, Z.rows(), batch_total);
  SoftmaxBlock block(Z.cols());
  double total = 0.0;
  for (Index start = 0; start < Z.rows(); start += block.rows_per_block()) {
    const Index n = std::min(block.rows_per_block(), Z.rows() - start);
    block.compute<T>(Z, start, n);
    for (Index r = 0; r < n; ++r) {
      const Index i = start + r;
      const RowExps e = block.row(r);
      total += weights[i] * row_loss(i, block.max(r), e, e.sum(), weights.scale() * weights[i]);
    }
  }
  return total * weights.scale();
}

// Probability targets: L = mean_rows Σ_j y_j (lse(z) − z_j);  dZ = (p·Σy − y) / n, p = softmax(z).
template <class T>
double softmax_xent_loss(CMatRef<T> Z, CMatRef<T> Y, T* dZ, const T* w = nullptr, double total = kOwnTotal) {
  return softmax_rows_mean<T>(Z, w, total, [&](Index i, double m, const RowExps& e, double s, double scale) {
    const auto shifted = Z.row(i).array().template cast<double>() - m;  // z − max z
    const auto y = Y.row(i).array().template cast<double>();
    const double ysum = y.sum();
    if (dZ)
      MapMat<T>(dZ, Z.rows(), Z.cols()).row(i).array() = ((e.transpose() * (ysum / s) - y) * scale).template cast<T>();
    return ysum * std::log(s) - (y * shifted).sum();  // Σ y (lse − z) without forming lse ≈ 1e4
  });
}

// Integer labels: L = mean_rows (lse(z) − z_label);  dZ = (p − onehot(label)) / n.
// Labels must already be checked to lie in [0, classes).
template <class T>
double softmax_xent_labels_loss(CMatRef<T> Z, const std::int64_t* labels, T* dZ, const T* w = nullptr,
                                double total = kOwnTotal) {
  return softmax_rows_mean<T>(Z, w, total, [&](Index i, double m, const RowExps& e, double s, double scale) {
    if (dZ) {
      auto d = MapMat<T>(dZ, Z.rows(), Z.cols()).row(i).array();
      d = (e.transpose() * (scale / s)).template cast<T>();
      d(labels[i]) -= T(scale);
    }
    return std::log(s) - (static_cast<double>(Z(i, labels[i])) - m);
  });
}

}  // namespace denso
