// A compiled training plan: a stack of dense layers, a fused loss and an optimizer over one flat
// parameter buffer. Every buffer a step needs is allocated here, once, for `max_batch` rows; a
// smaller batch uses the top rows. Parameters, gradients and optimizer state are caller-owned.
#pragma once
#include <cmath>
#include <cstdint>
#include <algorithm>
#include <functional>
#include <limits>
#include <memory>
#include <vector>
#include "denso/dense.hpp"
#include "denso/losses.hpp"
#include "denso/optimizers.hpp"
#include "denso/regularizers.hpp"
#include "denso/row_shares.hpp"
#include "denso/shard.hpp"
#include "denso/totals.hpp"

namespace denso {

// Called between backward and update with the batch's rows and step (see Plan::set_gradient_hook).
using GradientHook = std::function<void(Index rows, long step)>;

enum class TransformKind { dropout, gaussian_noise };

// Applied, in order, to a dense layer's input during training only.
struct InputTransform {
  TransformKind kind;
  double value;  // dropout rate or noise stddev
  Index layer;   // position in the model: keys the random stream
};

struct DenseSpec {
  Index in = 0, out = 0;
  Activation activation = Activation::identity;
  double alpha = 0.01;
  bool use_bias = true;
  double l1 = 0.0, l2 = 0.0;
  Index weight_offset = 0, bias_offset = 0;  // into the flat parameter / gradient buffers
  std::vector<InputTransform> transforms;
};

// The samples of a train/evaluate call: n rows of X, with targets Y (n × outputs) or int64 labels,
// and optional per-row weights (sample_weight; null: all 1).
template <class T>
struct SampleSet {
  const T* X;
  const T* Y;
  const std::int64_t* labels;
  const T* weights;
  Index n;
};

template <class T>
class Plan {
 public:
  // `loss_delta`: the huber loss's δ (unused by the other losses).
  Plan(std::vector<DenseSpec> layers, LossKind loss, OptimizerConfig optimizer, Index max_batch, std::uint64_t seed,
       T* params, T* grads, std::vector<T*> slots, double loss_delta = 1.0)
      : layers_(std::move(layers)), loss_(loss), opt_(optimizer), max_batch_(max_batch), seed_(seed),
        params_(params), grads_(grads), slots_(std::move(slots)), loss_delta_(loss_delta) {
    n_params_ = 0;
    for (const auto& s : layers_) n_params_ += s.in * s.out + (s.use_bias ? s.out : 0);
    input_.resize(max_batch_, layers_.front().in);
    target_.resize(max_batch_, layers_.back().out);
    labels_.resize(max_batch_);
    weights_.resize(max_batch_);
    inputs_.assign(layers_.size(), nullptr);
    for (const auto& s : layers_) {
      out_.emplace_back(max_batch_, s.out);
      grad_.emplace_back(max_batch_, s.out);
      const bool keep_z = needs_preactivation(s.activation);
      pre_.emplace_back(keep_z ? max_batch_ : 0, keep_z ? s.out : 0);
      const bool transformed = !s.transforms.empty();
      transformed_.emplace_back(transformed ? max_batch_ : 0, transformed ? s.in : 0);
      masks_.emplace_back();
      for (const auto& t : s.transforms)
        if (t.kind == TransformKind::dropout) masks_.back().emplace_back(max_batch_, s.in);
    }
  }

  using Scalar = T;
  Index max_batch() const { return max_batch_; }
  Index in() const { return layers_.front().in; }
  Index outputs() const { return layers_.back().out; }
  bool uses_labels() const { return denso::uses_labels(loss_); }
  Index n_params() const { return n_params_; }

  // Called between backward and update with the batch's rows and step, once the gradient buffer holds
  // the batch gradient (penalty included): it may read or rewrite it (a data-parallel allreduce, a
  // test observing gradients). While one is set, 1-2-row batches materialise dW too.
  void set_gradient_hook(std::shared_ptr<const GradientHook> hook) { gradient_hook_ = std::move(hook); }
  bool has_gradient_hook() const { return gradient_hook_ != nullptr; }

  // false (Keras's convention): a batch's l1/l2 penalty is l1·Σ|W| + l2·ΣW² whatever the batch. true
  // (scikit-learn's alpha): it is divided by the batch's total sample weight (its rows without
  // weights), as the data loss's sum is.
  void set_penalty_per_sample(bool on) { penalty_per_sample_ = on; }
  bool penalty_per_sample() const { return penalty_per_sample_; }

  // Data parallelism: from now on this plan trains shard `rank` of `ranks` of every batch (see
  // batch_shard), normalised by the whole batch's total so that the ranks' gradients add up to the
  // batch's; rank 0 adds the penalty gradient. The gradient hook must sum the ranks' gradient buffers
  // (an allreduce). A non-finite loss on any rank reaches every rank through the hook as a NaN first
  // gradient value, so all stop at the same batch. `batch_size` may then be up to max_batch · ranks.
  void set_shard(Index rank, Index ranks) {
    rank_ = rank;
    ranks_ = ranks;
    sharded_ = true;
  }
  bool sharded() const { return sharded_; }
  Index rank() const { return rank_; }
  Index ranks() const { return ranks_; }
  // The largest batch_size a train call accepts.
  Index max_batch_size() const { return max_batch_ * ranks_; }

  // Batches [first, last) of an epoch whose sample order is `order` (n entries): gather, forward,
  // loss, backward, penalty, update. `lrs[b - first]` is batch b's learning rate; *step counts updates.
  Totals train(const SampleSet<T>& data, const std::int64_t* order, Index batch_size, Index first, Index last,
               const double* lrs, long* step) {
    Totals totals;
    const auto hook = gradient_hook_;  // held for the call: the hook may replace itself
    for (Index b = first; b < last; ++b) {
      const Index start = b * batch_size;
      const Shard shard = shard_of(data, order + start, std::min(batch_size, data.n - start));
      // At 1-2 rows dW is a rank-1/2 product: the update computes it on the fly (see fused_update).
      const bool fused = shard.rows <= kRankUpdateRows && !hook && !sharded_;
      const RowShares shares = fused ? row_shares_for(n_params_) : RowShares{};
      const BatchLoss loss =
          batch_gradient(data, order + start, shard, fused, shares, static_cast<std::uint64_t>(*step + 1));
      const bool finite = std::isfinite(loss.data + loss.penalty);
      if (!finite && !sharded_) return stopped(totals, b);  // before the update: weights stay finite
      ++*step;
      if (!finite) grads_[0] = std::numeric_limits<T>::quiet_NaN();  // tells the other ranks (see set_shard)
      if (hook) {
        try {
          (*hook)(shard.rows, *step);
        } catch (...) {
          --*step;  // this batch is not applied
          throw;
        }
      }
      if (sharded_ && std::isnan(grads_[0])) {
        --*step;
        return stopped(totals, b);
      }
      OptimizerConfig c = opt_;
      c.lr = lrs[b - first];
      if (fused)
        fused_update(shard.rows, c, *step, shares, loss.penalty_factor);
      else
        optimizer_update<T>(c, *step, n_params_, params_, grads_, slots_.data());
      count(totals, shard.rows, own_mean(loss.data, shard), loss.penalty);
    }
    // A finite loss does not make finite weights: Adam with eps = 0 on a dead input, or a huge lr,
    // can overflow the update itself. One read of the parameters per call tells.
    totals.overflowed = !all_finite(params_, n_params_);
    return totals;
  }

  // Loss (with penalty) and metric sums over all n rows, in chunks of max_batch, no dropout/noise.
  Totals evaluate(const SampleSet<T>& data) {
    Totals totals;
    for (Index start = 0; start < data.n; start += max_batch_) {
      const Index rows = std::min(max_batch_, data.n - start);
      const Index in = layers_.front().in;
      forward(CMapMat<T>(data.X + start * in, rows, in), false, 0);
      copy_targets(data, start, rows);
      const double penalty = penalty_value(batch_penalty_factor(rows, kOwnTotal));
      count(totals, rows, loss_and_grad(rows, false), penalty);
    }
    return totals;
  }

  // out (n × outputs) = the network's output, each layer with its own activation (the inference plan
  // gives its last layer the activation predict returns: probabilities for cross-entropy models).
  // Works in blocks of at most `block` rows with a workspace of its own, and touches no member
  // buffer: several threads may predict with one plan at once (the training buffers are left alone).
  void predict(const T* X, Index n, Index block, T* out) const {
    if (n == 0) return;
    Index width = 0;
    for (const auto& s : layers_) width = std::max(width, s.out);
    block = std::max<Index>(1, std::min(block, n));
    // Ping-pong between layers, kept per thread up to kCachedPredictValues: a fresh multi-MB buffer per
    // call cost page faults (~10% of a 1024-row call, and they serialise across threads); a bigger
    // one (a huge batch_size) is the call's own, so no thread keeps hundreds of MB afterwards. Aligned,
    // and the last layer too is computed there and then copied: vectorised loops peel differently
    // with the address, and the answer must not depend on which thread or output array it lands in.
    constexpr std::size_t kCachedPredictValues = std::size_t(1) << 20;
    using Workspace = std::vector<T, Eigen::aligned_allocator<T>>;
    const std::size_t need = std::size_t(2 * block * width);
    thread_local Workspace cached;
    Workspace own;
    Workspace& work = need <= kCachedPredictValues ? cached : own;
    if (work.size() < need) work.resize(need);
    const Index in0 = layers_.front().in, k = layers_.back().out;
    for (Index start = 0; start < n; start += block) {
      const Index rows = std::min(block, n - start);
      const T* in = X + start * in0;
      Index in_cols = in0;
      for (Index l = 0; l < Index(layers_.size()); ++l) {
        const DenseSpec& s = layers_[l];
        T* dst = work.data() + (l % 2) * block * width;
        dense_forward<T>(CMapMat<T>(in, rows, in_cols), weight(s), bias(s), s.activation, T(s.alpha),
                         MapMat<T>(dst, rows, s.out), true);
        in = dst;
        in_cols = s.out;
      }
      std::copy(in, in + rows * k, out + start * k);
    }
  }

 private:
  std::vector<DenseSpec> layers_;
  LossKind loss_;
  OptimizerConfig opt_;
  Index max_batch_, n_params_;
  std::uint64_t seed_;
  T *params_, *grads_;
  std::vector<T*> slots_;
  double loss_delta_;
  std::shared_ptr<const GradientHook> gradient_hook_;
  bool penalty_per_sample_ = false;
  Index rank_ = 0, ranks_ = 1;  // the shard of every batch this plan trains (set_shard)
  bool sharded_ = false;
  // Workspace, allocated once: gathered batch, per-layer outputs A, gradients G = dL/dZ, the
  // pre-activations Z of the layers whose activation needs them (empty for the others),
  // transformed inputs and dropout masks.
  Matrix<T> input_, target_;
  std::vector<std::int64_t> labels_;
  std::vector<T> weights_;  // the batch's sample weights, when the call has them (weighted_)
  bool weighted_ = false;
  std::vector<Matrix<T>> out_, grad_, pre_, transformed_;
  std::vector<std::vector<Matrix<T>>> masks_;
  std::vector<const T*> inputs_;  // what each layer's forward read: needed for dW = Xᵀ·G
  Matrix<T> partials_;  // the per-chunk partial products of a row-split forward (sized on first use)

  CMapMat<T> weight(const DenseSpec& s) const { return CMapMat<T>(params_ + s.weight_offset, s.in, s.out); }
  const T* bias(const DenseSpec& s) const { return s.use_bias ? params_ + s.bias_offset : nullptr; }

  static Totals stopped(Totals& totals, Index batch) {
    totals.finite = false;
    totals.bad_batch = batch;
    return totals;
  }

  // This process's rows of the batch `batch` (batch_rows sample indices); unsharded: all of them,
  // normalised by their own total.
  Shard shard_of(const SampleSet<T>& data, const std::int64_t* batch, Index batch_rows) const {
    if (!sharded_) return {0, batch_rows, kOwnTotal};
    return batch_shard<T>(data.weights, batch, batch_rows, rank_, ranks_);
  }

  // A batch's data loss (this shard's part of it) and l1/l2 penalty.
  struct BatchLoss {
    double data = 0.0, penalty = 0.0;
    double penalty_factor = 1.0;  // what the batch's l1/l2 terms are multiplied by (batch_penalty_factor)
  };

  // The gradient of the shard's rows (unless `fused`: the update forms it) in grads_, with the
  // batch's data loss (this shard's part of it) and penalty. A shard without rows contributes a zero
  // gradient, so its rank still joins the hook's allreduce; only rank 0 adds the penalty gradient.
  // `shares`: how the fused step splits its products with W (see row_shares.hpp).
  BatchLoss batch_gradient(const SampleSet<T>& data, const std::int64_t* batch, const Shard& shard, bool fused,
                           RowShares shares, std::uint64_t step) {
    BatchLoss loss;
    const Index rows = shard.rows;
    if (rows == 0) {
      std::fill(grads_, grads_ + n_params_, T(0));
      weighted_ = data.weights != nullptr;
    } else {
      gather(data, batch + shard.offset, rows);
      forward(input_.topRows(rows), true, step, shard.offset, shares);
      loss.data = loss_and_grad(rows, true, shard.total);
      backward(rows, !fused, shares);
    }
    loss.penalty_factor = batch_penalty_factor(rows, shard.total);
    const double f = loss.penalty_factor;
    loss.penalty = !fused && rank_ == 0 ? penalty_and_grad(f) : penalty_value(f);  // after backward's dW
    return loss;
  }

  // The shard's data loss as a mean over its own rows (what count_batch weighs by them), from its
  // part of the batch loss, Σ_shard w·ℓ / batch total.
  double own_mean(double data_loss, const Shard& shard) const {
    if (shard.total < 0.0) return data_loss;
    const double own = RowWeights<T>(row_weights(), shard.rows).total;
    return own > 0.0 ? data_loss * (shard.total / own) : 0.0;
  }

  void gather(const SampleSet<T>& data, const std::int64_t* idx, Index rows) {
    const Index in = layers_.front().in, k = layers_.back().out;
    for (Index r = 0; r < rows; ++r) {
      input_.row(r) = CMapMat<T>(data.X + idx[r] * in, 1, in);
      if (data.Y) target_.row(r) = CMapMat<T>(data.Y + idx[r] * k, 1, k);
      if (data.labels) labels_[r] = data.labels[idx[r]];
      if (data.weights) weights_[r] = data.weights[idx[r]];
    }
    weighted_ = data.weights != nullptr;
  }

  // Targets (and weights) of rows [start, start + rows) for evaluation, which reads X in place.
  void copy_targets(const SampleSet<T>& data, Index start, Index rows) {
    const Index k = layers_.back().out;
    if (data.Y) target_.topRows(rows) = CMapMat<T>(data.Y + start * k, rows, k);
    if (data.labels) std::copy(data.labels + start, data.labels + start + rows, labels_.begin());
    if (data.weights) std::copy(data.weights + start, data.weights + start + rows, weights_.begin());
    weighted_ = data.weights != nullptr;
  }

  const T* row_weights() const { return weighted_ ? weights_.data() : nullptr; }

  // `row_offset`: x's first row is row row_offset of its batch (it keys the dropout/noise numbers).
  // `shares`: split the products with the bigger weight matrices by their rows (the fused step).
  void forward(CMatRef<T> x, bool training, std::uint64_t step, Index row_offset = 0, RowShares shares = {}) {
    const Index rows = x.rows();
    for (Index l = 0; l < Index(layers_.size()); ++l) {
      const DenseSpec& s = layers_[l];
      CMatRef<T> in = l == 0 ? x : CMatRef<T>(out_[l - 1].topRows(rows));
      if (training && !s.transforms.empty()) {
        auto t = transformed_[l].topRows(rows);
        t = in;
        apply_transforms(l, t, step, row_offset);
        inputs_[l] = t.data();
      } else {
        inputs_[l] = in.data();
      }
      const CMapMat<T> input(inputs_[l], rows, s.in);
      if (split_by_rows(s, shares)) {
        matmul_by_row_shares<T>(input, weight(s), out_[l].topRows(rows), shares, partials_);
        bias_activate<T>(out_[l].topRows(rows), bias(s), s.activation, T(s.alpha), pre(l));
      } else {
        dense_forward<T>(input, weight(s), bias(s), s.activation, T(s.alpha), out_[l].topRows(rows), false, pre(l));
      }
    }
  }

  // Whether the fused step splits this layer's products by W's rows: only for weight matrices big
  // enough that a flat pass over them would go parallel (a smaller one costs less than a hand-off).
  static bool split_by_rows(const DenseSpec& s, RowShares shares) {
    return shares.chunks > 1 && s.in * s.out >= kParallelMinElements;
  }

  // Layer l's pre-activation rows (batch-major, out wide), or null when its activation does not need them.
  T* pre(Index l) { return pre_[l].size() ? pre_[l].data() : nullptr; }

  // G = dL/dA ⊙ g'_l of layer l's activation, in place on its top `rows` rows of G.
  void activation_grad(Index l, MatRef<T> G) {
    const Index rows = G.rows();
    activation_backward<T>(out_[l].topRows(rows), pre(l), G, layers_[l].activation, T(layers_[l].alpha));
  }

  void apply_transforms(Index l, MatRef<T> t, std::uint64_t step, Index row_offset) {
    Index mask = 0;
    for (const auto& tr : layers_[l].transforms) {
      if (tr.kind == TransformKind::gaussian_noise) {
        gaussian_noise_forward<T>(seed_, tr.layer, step, tr.value, t, row_offset);
      } else {
        dropout_forward<T>(seed_, tr.layer, step, tr.value, t, masks_[l][mask++].topRows(t.rows()), row_offset);
      }
    }
  }

  // Data loss of the batch in out_.back(); with `with_grad`, grad_.back() = dL/dZ of the last layer.
  // `total`: the batch normaliser (kOwnTotal: these rows' own; see RowWeights).
  double loss_and_grad(Index rows, bool with_grad, double total = kOwnTotal) {
    CMatRef<T> z = out_.back().topRows(rows);
    T* g = with_grad ? grad_.back().data() : nullptr;
    switch (loss_) {
      case LossKind::mse:  // the regression losses: the last activation is not fused, so its g' follows
      case LossKind::mae:
      case LossKind::huber: {
        const double v = regression_loss(z, rows, g, total);
        if (g) activation_grad(Index(layers_.size()) - 1, grad_.back().topRows(rows));
        return v;
      }
      case LossKind::bce_logits: return bce_logits_loss<T>(z, target_.topRows(rows), g, row_weights(), total);
      case LossKind::softmax_xent: return softmax_xent_loss<T>(z, target_.topRows(rows), g, row_weights(), total);
      case LossKind::softmax_xent_labels:
        return softmax_xent_labels_loss<T>(z, labels_.data(), g, row_weights(), total);
    }
    return 0.0;
  }

  double regression_loss(CMatRef<T> p, Index rows, T* g, double total) const {
    const auto y = target_.topRows(rows);
    if (loss_ == LossKind::mae) return mae_loss<T>(p, y, g, row_weights(), total);
    if (loss_ == LossKind::huber) return huber_loss<T>(p, y, g, row_weights(), loss_delta_, total);
    return mse_loss<T>(p, y, g, row_weights(), total);
  }

  // G_l = dL/dZ_l is ready; dW_l, db_l (with `params`), then G_{l−1} = (G_l·W_lᵀ ⊙ masks) ⊙ g'_{l−1}.
  void backward(Index rows, bool params, RowShares shares = {}) {
    for (Index l = Index(layers_.size()) - 1; l >= 0; --l) {
      const DenseSpec& s = layers_[l];
      CMatRef<T> g = grad_[l].topRows(rows);
      if (params)
        dense_backward_params<T>(CMapMat<T>(inputs_[l], rows, s.in), g,
                                 MapMat<T>(grads_ + s.weight_offset, s.in, s.out),
                                 s.use_bias ? grads_ + s.bias_offset : nullptr, false);
      if (l == 0) break;  // the first layer's input needs no gradient
      auto prev = grad_[l - 1].topRows(rows);
      if (split_by_rows(s, shares))
        matmul_nt_by_row_shares<T>(g, weight(s), prev, shares);
      else
        dense_backward_input<T>(g, weight(s), prev, false);
      for (const auto& m : masks_[l]) prev.array() *= m.topRows(rows).array();
      activation_grad(l - 1, prev);
    }
  }

  // What the batch's l1/l2 penalty is multiplied by: 1, or 1 / its total sample weight (`total`, or
  // with kOwnTotal that of its `rows` gathered rows).
  double batch_penalty_factor(Index rows, double total) const {
    if (!penalty_per_sample_) return 1.0;
    if (total < 0.0) total = RowWeights<T>(row_weights(), rows).total;
    return total > 0.0 ? 1.0 / total : 0.0;
  }

  // The batch's l1/l2 penalty, its terms multiplied by f, with its gradient added to grads_.
  double penalty_and_grad(double f) {
    double total = 0.0;
    for (const auto& s : layers_)
      total += add_weight_penalty<T>(params_ + s.weight_offset, grads_ + s.weight_offset, s.in * s.out, f * s.l1,
                                     f * s.l2);
    return total;
  }

  // The penalty without its gradient, summed as penalty_and_grad sums it (evaluation and the fused
  // small-batch step, which adds its gradient on the fly).
  double penalty_value(double f) const {
    double total = 0.0;
    for (const auto& s : layers_)
      total += weight_penalty<T>(params_ + s.weight_offset, s.in * s.out, f * s.l1, f * s.l2);
    return total;
  }

  // The optimizer update of a 1-2-row batch with the gradient computed as it is consumed:
  // dW_l[i, :] = Σ_r X_l[r, i]·G_l[r, :] (+ the l1/l2 terms), db_l = Σ_r G_l[r, :]. One pass over
  // parameters and optimizer state, chunk c of `shares` taking rows [in·c/nc, in·(c+1)/nc) of every
  // layer (row_shares.hpp: each thread keeps its rows in its own cache from step to step, and reads
  // them in the step's products); the gradient buffer is not written.
  void fused_update(Index rows, const OptimizerConfig& c, long step, RowShares shares, double penalty_factor) {
    with_updater<T>(c, step, params_, slots_.data(), [&](const auto& upd) {
      run_team(shares.threads, shares.chunks, [&](Index chunk, Index chunks) {
        for (Index l = 0; l < Index(layers_.size()); ++l) {
          if (rows == 1) fused_layer<1>(upd, l, chunk, chunks, penalty_factor);
          else fused_layer<2>(upd, l, chunk, chunks, penalty_factor);
        }
      });
    });
  }

  // Gradient of weight row i for the fused update: Σ_r x_r·G_r[j] (+ 2·l2·w_j + l1·sign(w_j)).
  template <int Rows, bool Penalty>
  struct RankGrad {
    T x0, x1;
    const T *g0, *g1;
    T c1, c2;
    T operator()(Index j, T w) const {
      T d = x0 * g0[j];
      if constexpr (Rows == 2) d += x1 * g1[j];
      if constexpr (Penalty) d += c2 * w + c1 * sign_of(w);
      return d;
    }
  };
  template <int Rows>
  struct BiasGrad {
    const T *g0, *g1;
    T operator()(Index j, T /*param*/) const {
      if constexpr (Rows == 2) return g0[j] + g1[j];
      return g0[j];
    }
  };

  // Chunk c of nc of layer l: its weight rows [in·c/nc, in·(c+1)/nc) and bias entries [out·c/nc, out·(c+1)/nc).
  template <int Rows, class Updater>
  void fused_layer(const Updater& upd, Index l, Index c, Index nc, double penalty_factor) const {
    const DenseSpec& s = layers_[l];
    const T* x = inputs_[l];
    const T* g = grad_[l].data();  // rows of G_l, s.out apart
    const bool penalty = s.l1 != 0.0 || s.l2 != 0.0;
    const T c1 = T(penalty_factor * s.l1), c2 = T(2 * penalty_factor * s.l2);
    for (Index i = row_share(s.in, c, nc), end = row_share(s.in, c + 1, nc); i < end; ++i) {
      const Index row_start = s.weight_offset + i * s.out;
      const T x0 = x[i], x1 = Rows == 2 ? x[s.in + i] : T(0);
      if (penalty)
        upd(row_start, s.out, RankGrad<Rows, true>{x0, x1, g, g + s.out, c1, c2});
      else
        upd(row_start, s.out, RankGrad<Rows, false>{x0, x1, g, g + s.out, T(0), T(0)});
    }
    const Index j0 = row_share(s.out, c, nc), j1 = row_share(s.out, c + 1, nc);
    if (s.use_bias && j1 > j0) upd(s.bias_offset + j0, j1 - j0, BiasGrad<Rows>{g + j0, g + s.out + j0});
  }

  void count(Totals& t, Index rows, double data_loss, double penalty) const {
    count_batch<T>(loss_, out_.back().topRows(rows), target_.topRows(rows), labels_.data(), row_weights(), data_loss,
                   penalty, t);
  }
};

}  // namespace denso
