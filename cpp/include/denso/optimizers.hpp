// Optimizer updates: one config struct (immutable hyperparameters) and one in-place pass over flat
// caller-owned buffers per optimizer, following torch.optim's documented algorithms line for line.
// Kernels validate nothing (Python does) and never allocate; `step` is 1-based and owned by the caller.
#pragma once
#include <algorithm>
#include <cmath>
#include "denso/threads.hpp"
#include "denso/types.hpp"

namespace denso {

// Each update is one elementwise loop: element i depends only on index i, so results do not depend on
// the thread count or on buffer addresses. std::sqrt is correctly rounded like torch's; Eigen's
// EIGEN_FAST_MATH packet sqrt is an rsqrt approximation whose use depends on alignment, so it is
// avoided. (The sqrt loops vectorise only under -fno-math-errno; the update is memory-bound anyway.)

struct SgdConfig {
  double lr, momentum, dampening, weight_decay;
  bool nesterov;
};

// g ← grad + λ·θ                              (if λ ≠ 0)
// b ← g  at step 1;  b ← μ·b + (1 − τ)·g      (if μ ≠ 0; the first step is undampened)
// g ← g + μ·b  (Nesterov)  or  g ← b          (if μ ≠ 0)
// θ ← θ − γ·g
// momentum_buffer may be null when μ = 0.
// One block of the SGD pass; momentum and Nesterov are template flags so each variant vectorises.
template <class T, bool Momentum, bool Nesterov>
void sgd_block(const SgdConfig& c, bool first, Index begin, Index end, T* param, const T* grad,
               T* momentum_buffer) {
  const T lr = T(c.lr), wd = T(c.weight_decay), mu = T(c.momentum), keep = T(1 - c.dampening);
  const bool decay = c.weight_decay != 0;
  for (Index i = begin; i < end; ++i) {
    T g = decay ? grad[i] + wd * param[i] : grad[i];
    if constexpr (Momentum) {
      T& b = momentum_buffer[i];
      b = first ? g : mu * b + keep * g;
      g = Nesterov ? g + mu * b : b;
    }
    param[i] -= lr * g;
  }
}

template <class T>
void sgd_update(const SgdConfig& c, long step, Index n, T* param, const T* grad, T* momentum_buffer) {
  const bool first = step == 1;
  parallel_for(n, [&](Index begin, Index end) {
    if (c.momentum == 0)
      sgd_block<T, false, false>(c, first, begin, end, param, grad, momentum_buffer);
    else if (c.nesterov)
      sgd_block<T, true, true>(c, first, begin, end, param, grad, momentum_buffer);
    else
      sgd_block<T, true, false>(c, first, begin, end, param, grad, momentum_buffer);
  });
}

struct RmspropConfig {
  double lr, alpha, eps, momentum, weight_decay;
  bool centered;
};

// g ← grad + λ·θ                              (if λ ≠ 0)
// v ← α·v + (1 − α)·g²
// ḡ ← ḡ + (1 − α)·(g − ḡ)                     (centered; torch's lerp form of α·ḡ + (1 − α)·g)
// d ← sqrt(v − ḡ²) + ε  (centered)  or  sqrt(v) + ε
// b ← μ·b + g/d;  θ ← θ − γ·b                 (if μ > 0)
// θ ← θ − γ·g/d                               (otherwise)
// grad_avg may be null unless centered, momentum_buffer unless μ > 0. RMSprop has no bias correction:
// `step` is unused and kept for a uniform signature.
// One block of the RMSprop pass; the variants are template flags so each loop vectorises
// (GCC does not unswitch the conditional stores of the runtime-flag version).
template <class T, bool Centered, bool Momentum>
void rmsprop_block(const RmspropConfig& c, Index begin, Index end, T* param, const T* grad, T* square_avg,
                   T* grad_avg, T* momentum_buffer) {
  const T lr = T(c.lr), wd = T(c.weight_decay), alpha = T(c.alpha), rate = T(1 - c.alpha), eps = T(c.eps),
          mu = T(c.momentum);
  const bool decay = c.weight_decay != 0;
  for (Index i = begin; i < end; ++i) {
    const T g = decay ? grad[i] + wd * param[i] : grad[i];
    T& v = square_avg[i];
    v = alpha * v + rate * (g * g);
    T d;
    if constexpr (Centered) {
      T& ga = grad_avg[i];
      ga += rate * (g - ga);
      d = std::sqrt(v - ga * ga) + eps;
    } else {
      d = std::sqrt(v) + eps;
    }
    if constexpr (Momentum) {
      T& b = momentum_buffer[i];
      b = mu * b + g / d;
      param[i] -= lr * b;
    } else {
      param[i] -= lr * (g / d);
    }
  }
}

template <class T>
void rmsprop_update(const RmspropConfig& c, long /*step*/, Index n, T* param, const T* grad, T* square_avg,
                    T* grad_avg, T* momentum_buffer) {
  const bool momentum = c.momentum > 0;
  parallel_for(n, [&](Index begin, Index end) {
    if (c.centered && momentum)
      rmsprop_block<T, true, true>(c, begin, end, param, grad, square_avg, grad_avg, momentum_buffer);
    else if (c.centered)
      rmsprop_block<T, true, false>(c, begin, end, param, grad, square_avg, grad_avg, momentum_buffer);
    else if (momentum)
      rmsprop_block<T, false, true>(c, begin, end, param, grad, square_avg, grad_avg, momentum_buffer);
    else
      rmsprop_block<T, false, false>(c, begin, end, param, grad, square_avg, grad_avg, momentum_buffer);
  });
}

struct AdamConfig {
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad, decoupled_weight_decay;  // decoupled_weight_decay = AdamW
};

// θ ← θ·(1 − γ·λ)                             (AdamW: decoupled, if λ ≠ 0)
// g ← grad + λ·θ                              (Adam: coupled L2, if λ ≠ 0)
// m ← m + (1 − β1)·(g − m)                    (torch's lerp form of β1·m + (1 − β1)·g)
// v ← β2·v + (1 − β2)·g²
// v̂ ← max(v̂, v);  u ← v̂  (AMSGrad)  or  u ← v
// s ← γ / (1 − β1^t);  d ← sqrt(u) / sqrt(1 − β2^t) + ε   (ε after the bias correction)
// θ ← θ − s·m/d                               (= θ − γ·m̂/(sqrt(û) + ε) with m̂, û bias-corrected)
// max_exp_avg_sq (v̂) may be null unless amsgrad.
// One block of the Adam pass, a function of its own so it vectorises in every calling context.
template <class T>
void adam_block(const AdamConfig& c, long step, Index begin, Index end, T* param, const T* grad, T* exp_avg,
                T* exp_avg_sq, T* max_exp_avg_sq) {
  const double t = static_cast<double>(step);
  const T step_size = T(c.lr / (1 - std::pow(c.beta1, t))), bc2_sqrt = T(std::sqrt(1 - std::pow(c.beta2, t)));
  const T rate1 = T(1 - c.beta1), beta2 = T(c.beta2), rate2 = T(1 - c.beta2), eps = T(c.eps);
  const T wd = T(c.weight_decay), shrink = T(1 - c.lr * c.weight_decay);
  const bool decoupled = c.decoupled_weight_decay && c.weight_decay != 0;
  const bool coupled = !c.decoupled_weight_decay && c.weight_decay != 0, amsgrad = c.amsgrad;
  for (Index i = begin; i < end; ++i) {
    T& p = param[i];
    if (decoupled) p *= shrink;
    const T g = coupled ? grad[i] + wd * p : grad[i];
    T& m = exp_avg[i];
    T& v = exp_avg_sq[i];
    m += rate1 * (g - m);
    v = beta2 * v + rate2 * (g * g);
    T u = v;
    if (amsgrad) u = max_exp_avg_sq[i] = std::max(max_exp_avg_sq[i], v);
    p -= step_size * (m / (std::sqrt(u) / bc2_sqrt + eps));
  }
}

template <class T>
void adam_update(const AdamConfig& c, long step, Index n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq,
                 T* max_exp_avg_sq) {
  parallel_for(n, [&](Index begin, Index end) {
    adam_block<T>(c, step, begin, end, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq);
  });
}

// One config for every optimizer, so a compiled plan can hold any of them. AdamW is `adam` with
// decoupled_weight_decay; fields an optimizer does not use are ignored.
//   sgd:     lr, momentum, dampening, weight_decay, nesterov
//   rmsprop: lr, alpha, eps, momentum, weight_decay, centered
//   adam:    lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled_weight_decay
enum class OptimizerKind { sgd, rmsprop, adam };

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::sgd;
  double lr = 1e-3, momentum = 0, dampening = 0, alpha = 0.99, eps = 1e-8, beta1 = 0.9, beta2 = 0.999,
         weight_decay = 0;
  bool nesterov = false, centered = false, amsgrad = false, decoupled_weight_decay = false;
};

// State buffers of length n that optimizer_update needs, in this order (`slots`):
//   sgd:     [momentum_buffer]                          (momentum ≠ 0)
//   rmsprop: square_avg, [grad_avg], [momentum_buffer]  (centered; momentum > 0)
//   adam:    exp_avg, exp_avg_sq, [max_exp_avg_sq]      (amsgrad)
inline int optimizer_slot_count(const OptimizerConfig& c) {
  switch (c.kind) {
    case OptimizerKind::sgd: return c.momentum != 0 ? 1 : 0;
    case OptimizerKind::rmsprop: return 1 + int(c.centered) + int(c.momentum > 0);
    case OptimizerKind::adam: return 2 + int(c.amsgrad);
  }
  return 0;
}

// One in-place update of `param` (n values) from `grad`, with the optimizer_slot_count(c) buffers
// in `slots` (zeroed by the caller before step 1). `step` counts this parameter's updates from 1.
template <class T>
void optimizer_update(const OptimizerConfig& c, long step, Index n, T* param, const T* grad, T* const* slots) {
  switch (c.kind) {
    case OptimizerKind::sgd:
      sgd_update<T>({c.lr, c.momentum, c.dampening, c.weight_decay, c.nesterov}, step, n, param, grad,
                    c.momentum != 0 ? slots[0] : nullptr);
      return;
    case OptimizerKind::rmsprop: {
      T* grad_avg = c.centered ? slots[1] : nullptr;
      T* momentum_buffer = c.momentum > 0 ? slots[1 + int(c.centered)] : nullptr;
      rmsprop_update<T>({c.lr, c.alpha, c.eps, c.momentum, c.weight_decay, c.centered}, step, n, param, grad,
                        slots[0], grad_avg, momentum_buffer);
      return;
    }
    case OptimizerKind::adam:
      adam_update<T>({c.lr, c.beta1, c.beta2, c.eps, c.weight_decay, c.amsgrad, c.decoupled_weight_decay}, step,
                     n, param, grad, slots[0], slots[1], c.amsgrad ? slots[2] : nullptr);
      return;
  }
}

}  // namespace denso
