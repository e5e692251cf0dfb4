// Optimizer updates: one config struct (immutable hyperparameters) and one in-place pass over flat
// caller-owned buffers per optimizer, following torch.optim's documented algorithms line for line.
// Kernels validate nothing (Python does) and never allocate; `step` is 1-based and owned by the caller.
#pragma once
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>
#include "denso/threads.hpp"
#include "denso/types.hpp"

namespace denso {

// Each update is one elementwise loop: element i depends only on index i, so results do not depend on
// the thread count or on buffer addresses. std::sqrt is correctly rounded like torch's; Eigen's
// EIGEN_FAST_MATH packet sqrt is an rsqrt approximation whose use depends on alignment, so it is
// avoided. (The sqrt loops vectorise only under -fno-math-errno; the update is memory-bound anyway.)

// Each rule is an "updater": an object holding the step's constants and the parameter/state base
// pointers, whose call upd(offset, n, grad) updates values [offset, offset + n) with the gradient
// grad(j, θ_j) of value offset + j (θ_j, its value before the update, is there for penalty terms). The flat pass reads grad(j) from a buffer; the plan's fused
// small-batch pass computes it on the fly from the layer's inputs and output gradients, so dW is
// never written and read back. grad is always read first, before the parameter changes.
// Each call copies the constants into locals first: read through `this` they could alias the float
// stores, and the loop would neither hoist them nor vectorise (3x slower Adam).
template <class T>
struct FlatGrad {
  const T* g;
  T operator()(Index j, T /*param*/) const { return g[j]; }
};

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
  // Adam: add eps to √v before the bias correction (Keras's and scikit-learn's form, Kingma & Ba's ε̂)
  // instead of to the corrected √v̂ (PyTorch's, the default).
  bool epsilon_hat = false;
};

// State buffers of length n that optimizer_update needs, in this order (`slots`), by name:
//   sgd:     [momentum_buffer]                          (momentum ≠ 0)
//   rmsprop: square_avg, [grad_avg], [momentum_buffer]  (centered; momentum > 0)
//   adam:    exp_avg, exp_avg_sq, [max_exp_avg_sq]      (amsgrad)
// The Python optimizers name their state after this list (_core.optimizer_slot_names).
inline std::vector<const char*> optimizer_slot_names(const OptimizerConfig& c) {
  std::vector<const char*> names;
  switch (c.kind) {
    case OptimizerKind::sgd:
      if (c.momentum != 0) names.push_back("momentum_buffer");
      break;
    case OptimizerKind::rmsprop:
      names.push_back("square_avg");
      if (c.centered) names.push_back("grad_avg");
      if (c.momentum > 0) names.push_back("momentum_buffer");
      break;
    case OptimizerKind::adam:
      names = {"exp_avg", "exp_avg_sq"};
      if (c.amsgrad) names.push_back("max_exp_avg_sq");
      break;
  }
  return names;
}

inline int optimizer_slot_count(const OptimizerConfig& c) { return int(optimizer_slot_names(c).size()); }

// g ← grad + λ·θ                              (if λ ≠ 0)
// b ← g  at step 1;  b ← μ·b + (1 − τ)·g      (if μ ≠ 0; the first step is undampened)
// g ← g + μ·b  (Nesterov)  or  g ← b          (if μ ≠ 0)
// θ ← θ − γ·g
// momentum_buffer may be null when μ = 0. Momentum and Nesterov are template flags so each variant
// vectorises.
template <class T, bool Momentum, bool Nesterov>
struct SgdUpdater {
  T lr, wd, mu, keep;
  bool decay, first;
  T *param, *momentum_buffer;

  SgdUpdater(const OptimizerConfig& c, long step, T* p, T* b)
      : lr(T(c.lr)), wd(T(c.weight_decay)), mu(T(c.momentum)), keep(T(1 - c.dampening)),
        decay(c.weight_decay != 0), first(step == 1), param(p), momentum_buffer(b) {}

  template <class Grad>
  void operator()(Index offset, Index n, Grad grad) const {
    const T lr = this->lr, wd = this->wd, mu = this->mu, keep = this->keep;
    const bool decay = this->decay, first = this->first;
    T* __restrict p = param + offset;
    [[maybe_unused]] T* __restrict buf = Momentum ? momentum_buffer + offset : nullptr;
    for (Index i = 0; i < n; ++i) {
      const T raw = grad(i, p[i]);
      T g = decay ? raw + wd * p[i] : raw;
      if constexpr (Momentum) {
        T& b = buf[i];
        b = first ? g : mu * b + keep * g;
        g = Nesterov ? g + mu * b : b;
      }
      p[i] -= lr * g;
    }
  }
};

template <class T, class F>
void with_sgd_updater(const OptimizerConfig& c, long step, T* param, T* momentum_buffer, F&& f) {
  if (c.momentum == 0)
    f(SgdUpdater<T, false, false>(c, step, param, momentum_buffer));
  else if (c.nesterov)
    f(SgdUpdater<T, true, true>(c, step, param, momentum_buffer));
  else
    f(SgdUpdater<T, true, false>(c, step, param, momentum_buffer));
}

// g ← grad + λ·θ                              (if λ ≠ 0)
// v ← α·v + (1 − α)·g²
// ḡ ← ḡ + (1 − α)·(g − ḡ)                     (centered; torch's lerp form of α·ḡ + (1 − α)·g)
// d ← sqrt(v − ḡ²) + ε  (centered)  or  sqrt(v) + ε
// b ← μ·b + g/d;  θ ← θ − γ·b                 (if μ > 0)
// θ ← θ − γ·g/d                               (otherwise)
// grad_avg may be null unless centered, momentum_buffer unless μ > 0. RMSprop has no bias correction.
// The variants are template flags so each loop vectorises (GCC does not unswitch the conditional
// stores of a runtime-flag version).
template <class T, bool Centered, bool Momentum>
struct RmspropUpdater {
  T lr, wd, alpha, rate, eps, mu;
  bool decay;
  T *param, *square_avg, *grad_avg, *momentum_buffer;

  RmspropUpdater(const OptimizerConfig& c, T* p, T* v, T* ga, T* b)
      : lr(T(c.lr)), wd(T(c.weight_decay)), alpha(T(c.alpha)), rate(T(1 - c.alpha)), eps(T(c.eps)),
        mu(T(c.momentum)), decay(c.weight_decay != 0), param(p), square_avg(v), grad_avg(ga), momentum_buffer(b) {}

  template <class Grad>
  void operator()(Index offset, Index n, Grad grad) const {
    const T lr = this->lr, wd = this->wd, alpha = this->alpha, rate = this->rate, eps = this->eps, mu = this->mu;
    const bool decay = this->decay;
    T* __restrict p = param + offset;
    T* __restrict sq = square_avg + offset;
    [[maybe_unused]] T* __restrict gavg = Centered ? grad_avg + offset : nullptr;
    [[maybe_unused]] T* __restrict buf = Momentum ? momentum_buffer + offset : nullptr;
    for (Index i = 0; i < n; ++i) {
      const T raw = grad(i, p[i]);
      const T g = decay ? raw + wd * p[i] : raw;
      T& v = sq[i];
      v = alpha * v + rate * (g * g);
      T d;
      if constexpr (Centered) {
        T& ga = gavg[i];
        ga += rate * (g - ga);
        d = std::sqrt(v - ga * ga) + eps;
      } else {
        d = std::sqrt(v) + eps;
      }
      if constexpr (Momentum) {
        T& b = buf[i];
        b = mu * b + g / d;
        p[i] -= lr * b;
      } else {
        p[i] -= lr * (g / d);
      }
    }
  }
};

template <class T, class F>
void with_rmsprop_updater(const OptimizerConfig& c, T* param, T* square_avg, T* grad_avg, T* momentum_buffer, F&& f) {
  const bool momentum = c.momentum > 0;
  if (c.centered && momentum)
    f(RmspropUpdater<T, true, true>(c, param, square_avg, grad_avg, momentum_buffer));
  else if (c.centered)
    f(RmspropUpdater<T, true, false>(c, param, square_avg, grad_avg, momentum_buffer));
  else if (momentum)
    f(RmspropUpdater<T, false, true>(c, param, square_avg, grad_avg, momentum_buffer));
  else
    f(RmspropUpdater<T, false, false>(c, param, square_avg, grad_avg, momentum_buffer));
}

// θ ← θ·(1 − γ·λ)                             (AdamW: decoupled, if λ ≠ 0)
// g ← grad + λ·θ                              (Adam: coupled L2, if λ ≠ 0)
// m ← m + (1 − β1)·(g − m)                    (torch's lerp form of β1·m + (1 − β1)·g)
// v ← β2·v + (1 − β2)·g²
// v̂ ← max(v̂, v);  u ← v̂  (AMSGrad)  or  u ← v
// s ← γ / (1 − β1^t);  d ← sqrt(u) / sqrt(1 − β2^t) + ε   (ε after the bias correction)
// θ ← θ − s·m/d                               (= θ − γ·m̂/(sqrt(û) + ε) with m̂, û bias-corrected)
// computed as θ − (s·c)·m/(sqrt(u) + ε·c) with c = sqrt(1 − β2^t): the same value with one division
// fewer (sqrt and division bound this pass, not memory: 92 -> 66 µs on 235k floats).
// max_exp_avg_sq (v̂) may be null unless amsgrad.
// The weight-decay mode and AMSGrad are template flags: GCC vectorises none of the runtime-flag
// versions of this loop (a conditional store each), and this pass is a third of a batch-1 step.
enum class AdamDecay { none, coupled, decoupled };

template <class T, AdamDecay Decay, bool Amsgrad>
struct AdamUpdater {
  T scaled_step, rate1, beta2, rate2, scaled_eps, wd, shrink;
  T *param, *exp_avg, *exp_avg_sq, *max_exp_avg_sq;

  AdamUpdater(const OptimizerConfig& c, long step, T* p, T* m, T* v, T* vmax)
      : scaled_step(T(c.lr / (1 - std::pow(c.beta1, double(step))) * std::sqrt(1 - std::pow(c.beta2, double(step))))),
        rate1(T(1 - c.beta1)), beta2(T(c.beta2)), rate2(T(1 - c.beta2)),
        scaled_eps(T(c.epsilon_hat ? c.eps : c.eps * std::sqrt(1 - std::pow(c.beta2, double(step))))),
        wd(T(c.weight_decay)), shrink(T(1 - c.lr * c.weight_decay)), param(p),
        exp_avg(m), exp_avg_sq(v), max_exp_avg_sq(vmax) {}

  template <class Grad>
  void operator()(Index offset, Index n, Grad grad) const {
    const T scaled_step = this->scaled_step, rate1 = this->rate1, beta2 = this->beta2, rate2 = this->rate2,
            scaled_eps = this->scaled_eps, wd = this->wd, shrink = this->shrink;
    T* __restrict pp = param + offset;
    T* __restrict mm = exp_avg + offset;
    T* __restrict vv = exp_avg_sq + offset;
    [[maybe_unused]] T* __restrict vmax = Amsgrad ? max_exp_avg_sq + offset : nullptr;
    for (Index i = 0; i < n; ++i) {
      const T raw = grad(i, pp[i]);
      T p = pp[i];
      if constexpr (Decay == AdamDecay::decoupled) p *= shrink;
      const T g = Decay == AdamDecay::coupled ? raw + wd * p : raw;
      const T m = mm[i] + rate1 * (g - mm[i]);
      const T v = beta2 * vv[i] + rate2 * (g * g);
      mm[i] = m;
      vv[i] = v;
      T u = v;
      if constexpr (Amsgrad) u = vmax[i] = std::max(vmax[i], v);
      pp[i] = p - scaled_step * (m / (std::sqrt(u) + scaled_eps));
    }
  }
};

template <class T, class F>
void with_adam_updater(const OptimizerConfig& c, long step, T* param, T* m, T* v, T* vmax, F&& f) {
  auto pick = [&](auto decay) {
    constexpr AdamDecay d = decltype(decay)::value;
    if (c.amsgrad)
      f(AdamUpdater<T, d, true>(c, step, param, m, v, vmax));
    else
      f(AdamUpdater<T, d, false>(c, step, param, m, v, vmax));
  };
  if (c.weight_decay == 0)
    pick(std::integral_constant<AdamDecay, AdamDecay::none>{});
  else if (c.decoupled_weight_decay)
    pick(std::integral_constant<AdamDecay, AdamDecay::decoupled>{});
  else
    pick(std::integral_constant<AdamDecay, AdamDecay::coupled>{});
}

// The flat pass of an updater over n values, in contiguous blocks per thread.
template <class T, class Updater>
void update_flat(const Updater& upd, Index n, const T* grad) {
  parallel_for(n, [&](Index begin, Index end) { upd(begin, end - begin, FlatGrad<T>{grad + begin}); });
}

// f(updater) with the updater of config `c` at `step` over `param` and the
// optimizer_slot_count(c) state buffers in `slots` (zeroed by the caller before step 1).
template <class T, class F>
void with_updater(const OptimizerConfig& c, long step, T* param, T* const* slots, F&& f) {
  switch (c.kind) {
    case OptimizerKind::sgd:
      with_sgd_updater<T>(c, step, param, c.momentum != 0 ? slots[0] : nullptr, f);
      return;
    case OptimizerKind::rmsprop:
      with_rmsprop_updater<T>(c, param, slots[0], c.centered ? slots[1] : nullptr,
                              c.momentum > 0 ? slots[1 + int(c.centered)] : nullptr, f);
      return;
    case OptimizerKind::adam:
      with_adam_updater<T>(c, step, param, slots[0], slots[1], c.amsgrad ? slots[2] : nullptr, f);
      return;
  }
}

// One in-place update of `param` (n values) from `grad`, with the optimizer_slot_count(c) buffers
// in `slots` (zeroed by the caller before step 1). `step` counts this parameter's updates from 1.
template <class T>
void optimizer_update(const OptimizerConfig& c, long step, Index n, T* param, const T* grad, T* const* slots) {
  with_updater<T>(c, step, param, slots, [&](const auto& upd) { update_flat<T>(upd, n, grad); });
}

}  // namespace denso
