// Batch-averaged losses fused with their gradients. Each returns the loss and, when dZ is
// non-null, writes dLoss/dZ (already divided by the batch) into it. Sums accumulate in double.
#pragma once
#include <cmath>
#include <cstdint>
#include "denso/types.hpp"

namespace denso {

// Row log-sum-exp, shifted by the max so logits of ±1e4 stay finite.
template <class Row>
inline double logsumexp_row(const Row& z) {
  const double m = static_cast<double>(z.maxCoeff());
  return m + std::log((z.array().template cast<double>() - m).exp().sum());
}

// L = Σ (p − y)² / (n·m);  dP = 2 (p − y) / (n·m).  (PyTorch MSELoss, reduction="mean")
template <class T>
double mse_loss(CMatRef<T> P, CMatRef<T> Y, T* dP) {
  const double scale = 1.0 / static_cast<double>(P.size());
  double total = 0.0;
  for (Index i = 0; i < P.rows(); ++i) {
    const auto diff = (P.row(i) - Y.row(i)).eval();
    total += diff.template cast<double>().squaredNorm();
    if (dP) MapMat<T>(dP, P.rows(), P.cols()).row(i) = T(2 * scale) * diff;
  }
  return total * scale;
}

// From logits z: L = mean[max(z,0) − z·y + log(1 + e^{−|z|})];  dZ = (σ(z) − y) / (n·m).
template <class T>
double bce_logits_loss(CMatRef<T> Z, CMatRef<T> Y, T* dZ) {
  const double scale = 1.0 / static_cast<double>(Z.size());
  double total = 0.0;
  for (Index i = 0; i < Z.rows(); ++i) {
    const auto z = Z.row(i).array();
    const auto y = Y.row(i).array();
    total += (z.max(T(0)) - z * y + (-z.abs()).exp().log1p()).template cast<double>().sum();
    if (dZ) MapMat<T>(dZ, Z.rows(), Z.cols()).row(i).array() = T(scale) * (T(1) / (T(1) + (-z).exp()) - y);
  }
  return total * scale;
}

// Probability targets: L = mean_rows Σ_j y_j (lse(z) − z_j);  dZ = (p·Σy − y) / n, p = softmax(z).
template <class T>
double softmax_xent_loss(CMatRef<T> Z, CMatRef<T> Y, T* dZ) {
  const Index n = Z.rows();
  const double scale = 1.0 / static_cast<double>(n);
  double total = 0.0;
  for (Index i = 0; i < n; ++i) {
    const double lse = logsumexp_row(Z.row(i));
    const double ysum = Y.row(i).template cast<double>().sum();
    total += lse * ysum - Y.row(i).template cast<double>().dot(Z.row(i).template cast<double>());
    if (dZ) {
      auto d = MapMat<T>(dZ, n, Z.cols()).row(i).array();
      d = ((Z.row(i).array() - T(lse)).exp() * T(ysum) - Y.row(i).array()) * T(scale);
    }
  }
  return total * scale;
}

// Integer labels: L = mean_rows (lse(z) − z_label);  dZ = (p − onehot(label)) / n.
// Labels must already be checked to lie in [0, classes).
template <class T>
double softmax_xent_labels_loss(CMatRef<T> Z, const std::int64_t* labels, T* dZ) {
  const Index n = Z.rows();
  const double scale = 1.0 / static_cast<double>(n);
  double total = 0.0;
  for (Index i = 0; i < n; ++i) {
    const double lse = logsumexp_row(Z.row(i));
    total += lse - static_cast<double>(Z(i, labels[i]));
    if (dZ) {
      auto d = MapMat<T>(dZ, n, Z.cols()).row(i).array();
      d = (Z.row(i).array() - T(lse)).exp() * T(scale);
      d(labels[i]) -= T(scale);
    }
  }
  return total * scale;
}

}  // namespace denso
