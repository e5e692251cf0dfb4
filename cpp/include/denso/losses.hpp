// Batch-averaged losses fused with their gradients. Each returns the loss and, when dZ is
// non-null, writes dLoss/dZ (already divided by the batch) into it. Sums accumulate in double.
// With per-row weights w (sample_weight; null: all 1) the batch loss is the weighted mean
// Σ_r w_r·ℓ_r / Σ_r w_r, and row r's gradient is scaled by w_r / Σ w instead of 1 / n.
#pragma once
#include <cmath>
#include <cstdint>
#include "denso/types.hpp"

namespace denso {

// e_j = exp(z_j − max z) of one row, in double, and their sum s; `m` receives max z. Softmax is then
// e / s and log-sum-exp is m + log s. Shifted values z − m are exact for the logits that matter, so
// logits of ±1e4 give neither overflow nor the rounding of a 1e4-sized lse. The exps run on Eigen's
// SIMD path over an aligned buffer (a cast expression would fall back to scalar libm calls, ~15% of
// a small network's step), so the SIMD/scalar split depends on the row's length only.
template <class Row>
inline double shifted_exps(const Row& z, Eigen::ArrayXd& e, double& m) {
  m = static_cast<double>(z.maxCoeff());
  const Index n = z.size();
  e.resize(n);
  for (Index j = 0; j < n; ++j) e[j] = static_cast<double>(z(j)) - m;
  e = e.exp();
  return e.sum();
}

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
    const auto diff = (P.row(i) - Y.row(i)).eval();
    if (dP) MapMat<T>(dP, P.rows(), P.cols()).row(i) = T(2 * scale) * diff;
    return diff.template cast<double>().squaredNorm();
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

// (Weighted) mean over rows of a softmax cross-entropy: row_loss(i, m, e, s, scale) gets row i's max
// m, its shifted exps e and their sum s (see shifted_exps) and row i's gradient scale (1/n or w_i/Σw),
// writes row i of dZ and returns the row's loss.
template <class T, class RowLoss>
double softmax_rows_mean(CMatRef<T> Z, const T* w, double batch_total, RowLoss row_loss) {
  const RowWeights<T> weights(w, Z.rows(), batch_total);
  Eigen::ArrayXd e;
  double total = 0.0;
  for (Index i = 0; i < Z.rows(); ++i) {
    double m;
    const double s = shifted_exps(Z.row(i), e, m);
    total += weights[i] * row_loss(i, m, e, s, weights.scale() * weights[i]);
  }
  return total * weights.scale();
}

// Probability targets: L = mean_rows Σ_j y_j (lse(z) − z_j);  dZ = (p·Σy − y) / n, p = softmax(z).
template <class T>
double softmax_xent_loss(CMatRef<T> Z, CMatRef<T> Y, T* dZ, const T* w = nullptr, double total = kOwnTotal) {
  return softmax_rows_mean<T>(Z, w, total, [&](Index i, double m, const Eigen::ArrayXd& e, double s, double scale) {
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
  return softmax_rows_mean<T>(Z, w, total, [&](Index i, double m, const Eigen::ArrayXd& e, double s, double scale) {
    if (dZ) {
      auto d = MapMat<T>(dZ, Z.rows(), Z.cols()).row(i).array();
      d = (e.transpose() * (scale / s)).template cast<T>();
      d(labels[i]) -= T(scale);
    }
    return std::log(s) - (static_cast<double>(Z(i, labels[i])) - m);
  });
}

}  // namespace denso
