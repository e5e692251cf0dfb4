// The compiled training plan and the typed description it is built from (DenseSpec, InputTransform,
// LossKind, OptimizerConfig). The Python object keeps every array the plan maps alive.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <variant>
#include "checks.hpp"
#include "native_call.hpp"
#include "denso/plan.hpp"

namespace py = pybind11;
using namespace denso;
using namespace denso::checks;

namespace {

void require_range(double v, const char* name, double low, double high, bool high_open) {
  if (!(v >= low && (high_open ? v < high : v <= high)))
    fail(std::string("`") + name + "` must be in [" + repr_number(low) + ", " + repr_number(high) +
         (high_open ? ")" : "]") + ", got " + repr_number(v));
}

InputTransform make_transform(TransformKind kind, double value, Index layer) {
  require_enum(kind, TransformKind::gaussian_noise, "kind");
  if (kind == TransformKind::dropout) require_range(value, "value", 0.0, 1.0, true);
  else require_range(value, "value", 0.0, HUGE_VAL, true);
  if (layer < 0) fail("`layer` must be >= 0, got " + std::to_string(layer));
  return {kind, value, layer};
}

// Sizes and offsets small enough that no product or sum below can overflow.
constexpr Index kMaxWidth = Index(1) << 31, kMaxOffset = Index(1) << 61;

DenseSpec make_spec(Index in, Index out, Activation activation, double alpha, bool use_bias, double l1, double l2,
                    Index weight_offset, Index bias_offset, std::vector<InputTransform> transforms) {
  if (in < 1 || out < 1 || in > kMaxWidth || out > kMaxWidth)
    fail("a dense layer needs `in` and `out` in [1, 2**31], got " + std::to_string(in) + " and " +
         std::to_string(out));
  if (weight_offset < 0 || bias_offset < 0 || weight_offset > kMaxOffset || bias_offset > kMaxOffset)
    fail("`weight_offset` and `bias_offset` must be in [0, 2**61], got " + std::to_string(weight_offset) + " and " +
         std::to_string(bias_offset));
  require_range(alpha, "alpha", 0.0, HUGE_VAL, true);
  require_range(l1, "l1", 0.0, HUGE_VAL, true);
  require_range(l2, "l2", 0.0, HUGE_VAL, true);
  require_enum(activation, Activation::swish, "activation");
  return {in, out, activation, alpha, use_bias, l1, l2, weight_offset, bias_offset, std::move(transforms)};
}

// The values of the flat parameter buffer the layers address. Consecutive layers must chain, and
// their weights and biases must tile [0, total) exactly: the optimizer updates that whole range, so
// a gap would be updated with stale gradients and an overlap trained twice.
Index tiled_params(const std::vector<DenseSpec>& specs) {
  if (specs.empty()) fail("`layers` must describe at least one dense layer");
  std::vector<std::pair<Index, Index>> ranges;  // (offset, size)
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const auto& s = specs[i];
    if (i > 0 && specs[i - 1].out != s.in)
      fail("layer " + std::to_string(i) + " expects " + std::to_string(s.in) + " inputs but the previous layer has " +
           std::to_string(specs[i - 1].out) + " units");
    ranges.emplace_back(s.weight_offset, s.in * s.out);
    if (s.use_bias) ranges.emplace_back(s.bias_offset, s.out);
  }
  std::sort(ranges.begin(), ranges.end());
  Index end = 0;
  for (const auto& [offset, size] : ranges) {
    if (offset != end)
      fail("the layers' weights and biases must tile the parameter buffer without gaps or overlaps: a block "
           "starts at " + std::to_string(offset) + " where " + std::to_string(end) + " was expected");
    end = offset + size;
  }
  return end;
}

// x: n × inputs; exactly one of y (n × outputs) or labels (n int64 in [0, outputs)), as the loss needs;
// weights None or n finite values >= 0 (sample weights). The checked samples, as the plan reads them.
template <class T>
SampleSet<T> check_samples(LossKind loss, Index in, Index outputs, const py::array& x, const py::object& y,
                           const py::object& labels, const py::object& weights) {
  auto X = matrix<T>(x, "x");
  if (X.cols() != in) fail("`x` must have " + std::to_string(in) + " columns, got shape " + shape_str(x));
  if (X.rows() == 0) fail("`x` must hold at least one sample");
  if (uses_labels(loss) == labels.is_none() || y.is_none() == labels.is_none())
    fail(uses_labels(loss) ? "this plan's loss needs integer `labels` and no `y`"
                           : "this plan's loss needs a target matrix `y` and no `labels`");
  SampleSet<T> set{X.data(), nullptr, nullptr, nullptr, X.rows()};
  if (!y.is_none()) {
    auto Y = matrix<T>(as_array(y, "y"), "y");
    require_shape(Y, "y", X.rows(), outputs);
    set.Y = Y.data();
  }
  if (!labels.is_none()) set.labels = labels_vector(labels, X.rows(), outputs, "x");
  set.weights = sample_weights<T>(weights, X.rows(), "x");
  return set;
}

// The epoch's sample order and the batch range of one train call.
void check_schedule(const py::array& order, Index n, Index batch_size, Index max_batch, Index first, Index last,
                    const py::array& lrs) {
  require_dtype<std::int64_t>(order, "order");
  require_layout(order, "order", 1, false);
  if (order.shape(0) != n) fail("`order` must have one entry per sample (" + std::to_string(n) + ")");
  if (batch_size < 1 || batch_size > max_batch)
    fail("`batch_size` must be in [1, " + std::to_string(max_batch) + "], got " + std::to_string(batch_size));
  const Index batches = (n + batch_size - 1) / batch_size;
  if (first < 0 || last > batches || first > last)
    fail("batch range [" + std::to_string(first) + ", " + std::to_string(last) + ") outside [0, " +
         std::to_string(batches) + "]");
  require_dtype<double>(lrs, "lrs");
  require_layout(lrs, "lrs", 1, false);
  if (lrs.shape(0) != last - first) fail("`lrs` must hold one learning rate per batch in the range");
  const auto* idx = static_cast<const std::int64_t*>(order.data());
  for (Index i = 0; i < n; ++i)
    if (idx[i] < 0 || idx[i] >= n) fail("`order` must be a permutation of 0..n-1");
}

// Plan<float> or Plan<double>, chosen by the parameter buffer's dtype, plus the arrays it maps.
class PyPlan {
 public:
  PyPlan(std::vector<DenseSpec> specs, LossKind loss, const OptimizerConfig& opt, Index max_batch,
         std::uint64_t seed, py::array params, py::array grads, const py::list& slots, double loss_delta)
      : loss_(require_enum(loss, LossKind::huber, "loss")), params_(params), grads_(grads) {
    if (max_batch < 1) fail("`max_batch` must be >= 1, got " + std::to_string(max_batch));
    if (!(loss_delta > 0 && std::isfinite(loss_delta)))
      fail("`loss_delta` must be a finite number > 0, got " + repr_number(loss_delta));
    const Index total = tiled_params(specs);
    const int count = optimizer_slot_count(opt);
    if (Index(slots.size()) != count)
      fail("optimizer needs " + std::to_string(count) + " state buffers, got " + std::to_string(slots.size()));
    dispatch_float(params, "params", [&](auto tag) {
      using T = decltype(tag);
      FlatBuffers buffers(total, std::to_string(total) + " values (the layers' weights and biases)");
      T* P = buffers.get<T>(params_, "params", true);
      T* G = buffers.get<T>(grads_, "grads", true);
      std::vector<T*> slot_ptrs;
      for (std::size_t i = 0; i < slots.size(); ++i) {
        slot_ptrs.push_back(buffers.get<T>(slots[i], "slots[" + std::to_string(i) + "]", true));
        slots_.push_back(py::reinterpret_borrow<py::array>(slots[i]));
      }
      plan_ = std::make_unique<Plan<T>>(std::move(specs), loss, opt, max_batch, seed, P, G, slot_ptrs, loss_delta);
    });
  }

  // Batches [first, last) of the epoch ordered by `order`; the step count after them is step + batches.
  Totals train(const py::array& x, const py::object& y, const py::object& labels, const py::object& weights,
               const py::array& order, Index batch_size, Index first, Index last, const py::array& lrs, long step) {
    last_step_ = step;
    return std::visit([&](auto& p) {
      using T = typename std::decay_t<decltype(*p)>::Scalar;
      const auto samples = check_samples<T>(loss_, p->in(), p->outputs(), x, y, labels, weights);
      check_schedule(order, samples.n, batch_size, p->max_batch_size(), first, last, lrs);
      if (p->ranks() > 1 && !p->has_gradient_hook())
        fail("a plan training shard " + std::to_string(p->rank()) + " of " + std::to_string(p->ranks()) +
             " needs a gradient hook that sums the ranks' gradients (an allreduce); set_gradient_hook first");
      NativeCall native;
      return p->train(samples, static_cast<const std::int64_t*>(order.data()), batch_size, first, last,
                      static_cast<const double*>(lrs.data()), &last_step_);  // kept if the hook raises
    }, plan_);
  }

  // Train shard `rank` of `ranks` of every batch from now on (see Plan::set_shard).
  void set_shard(Index rank, Index ranks) {
    if (ranks < 1 || ranks > (Index(1) << 24)) fail("`ranks` must be in [1, 2**24], got " + std::to_string(ranks));
    if (rank < 0 || rank >= ranks)
      fail("`rank` must be in [0, " + std::to_string(ranks - 1) + "], got " + std::to_string(rank));
    std::visit([&](auto& p) { p->set_shard(rank, ranks); }, plan_);
  }
  py::object shard() const {
    return std::visit([](const auto& p) -> py::object {
      if (!p->sharded()) return py::none();
      return py::make_tuple(p->rank(), p->ranks());
    }, plan_);
  }

  bool penalty_per_sample() const {
    return std::visit([](const auto& p) { return p->penalty_per_sample(); }, plan_);
  }
  void set_penalty_per_sample(bool on) {
    std::visit([on](auto& p) { p->set_penalty_per_sample(on); }, plan_);
  }

  // The updates applied by the last train call (its `step` plus the batches it updated), also when
  // it stopped by an exception from the gradient hook.
  long last_step() const { return last_step_; }

  Totals evaluate(const py::array& x, const py::object& y, const py::object& labels, const py::object& weights) {
    return std::visit([&](auto& p) {
      using T = typename std::decay_t<decltype(*p)>::Scalar;
      const auto samples = check_samples<T>(loss_, p->in(), p->outputs(), x, y, labels, weights);
      NativeCall native;
      return p->evaluate(samples);
    }, plan_);
  }

  // Thread-safe (see Plan::predict); checks x for NaN/inf itself, so Python's fast path need not.
  void predict(const py::array& x, py::array out, Index batch_size) {
    std::visit([&](auto& p) {
      using T = typename std::decay_t<decltype(*p)>::Scalar;
      auto X = matrix<T>(x, "x");
      auto O = mut_matrix<T>(out, "out");
      if (X.cols() != p->in()) fail("`x` must have " + std::to_string(p->in()) + " columns, got " + shape_str(x));
      require_shape(O, "out", X.rows(), p->outputs());
      if (batch_size < 1) fail("`batch_size` must be a positive integer, got " + std::to_string(batch_size));
      require_all_finite<T>(X, "x");
      NativeCall native;
      p->predict(X.data(), X.rows(), batch_size, O.data());
    }, plan_);
  }

  // fn(grads, rows, step) between backward and update, with the GIL held; None removes it. An
  // exception it raises stops the train call before that batch's update.
  void set_gradient_hook(const py::object& fn) {
    std::visit([&](auto& p) {
      if (fn.is_none()) return p->set_gradient_hook(nullptr);
      if (!PyCallable_Check(fn.ptr())) throw py::type_error("`hook` must be callable or None, got " + type_name(fn));
      auto call = std::make_shared<PyHook>(fn, grads_);
      p->set_gradient_hook(std::make_shared<const GradientHook>([call](Index rows, long step) {
        py::gil_scoped_acquire gil;
        call->fn(call->grads, rows, step);
      }));
    }, plan_);
  }

 private:
  // The Python side of a hook. The plan may drop the last reference with the GIL released (a hook
  // that removes itself): the references are then released under the GIL.
  struct PyHook {
    py::object fn, grads;
    PyHook(py::object f, py::object g) : fn(std::move(f)), grads(std::move(g)) {}
    ~PyHook() {
      py::gil_scoped_acquire gil;
      fn = py::object();
      grads = py::object();
    }
  };

  LossKind loss_;
  long last_step_ = 0;
  py::array params_, grads_;
  std::vector<py::array> slots_;
  std::variant<std::unique_ptr<Plan<float>>, std::unique_ptr<Plan<double>>> plan_;
};

void bind_specs(py::module_& m) {
  py::enum_<LossKind>(m, "LossKind", "The loss a plan fuses with the last layer.")
      .value("mse", LossKind::mse)
      .value("bce_logits", LossKind::bce_logits)
      .value("softmax_xent_labels", LossKind::softmax_xent_labels)
      .value("softmax_xent", LossKind::softmax_xent)
      .value("mae", LossKind::mae)
      .value("huber", LossKind::huber);
  py::enum_<TransformKind>(m, "TransformKind", "A training-only transform of a dense layer's input.")
      .value("dropout", TransformKind::dropout)
      .value("gaussian_noise", TransformKind::gaussian_noise);
  py::class_<InputTransform>(m, "InputTransform")
      .def(py::init(&make_transform), py::arg("kind"), py::arg("value"), py::arg("layer"),
           "`value`: dropout rate in [0, 1) or noise stddev >= 0; `layer`: model position keying the random stream.")
      .def_readonly("kind", &InputTransform::kind)
      .def_readonly("value", &InputTransform::value)
      .def_readonly("layer", &InputTransform::layer);
  py::class_<DenseSpec>(m, "DenseSpec")
      .def(py::init(&make_spec), py::arg("in_features"), py::arg("out_features"), py::arg("activation"),
           py::arg("alpha"), py::arg("use_bias"), py::arg("l1"), py::arg("l2"), py::arg("weight_offset"),
           py::arg("bias_offset"), py::arg("transforms"), "A dense layer of a Plan; offsets index the flat buffers.")
      .def_readonly("in_features", &DenseSpec::in)
      .def_readonly("out_features", &DenseSpec::out)
      .def_readonly("activation", &DenseSpec::activation)
      .def_readonly("weight_offset", &DenseSpec::weight_offset)
      .def_readonly("bias_offset", &DenseSpec::bias_offset);
}

}  // namespace

void bind_plan(py::module_& m) {
  bind_specs(m);
  py::class_<PyPlan>(m, "Plan")
      .def(py::init<std::vector<DenseSpec>, LossKind, const OptimizerConfig&, Index, std::uint64_t, py::array,
                    py::array, const py::list&, double>(),
           py::arg("layers"), py::arg("loss"), py::arg("optimizer"), py::arg("max_batch"), py::arg("seed"),
           py::arg("params"), py::arg("grads"), py::arg("slots"), py::arg("loss_delta") = 1.0,
           "`loss_delta`: the huber loss's delta (> 0; unused by the other losses).")
      .def("train", &PyPlan::train, py::arg("x"), py::arg("y"), py::arg("labels"), py::arg("weights"), py::arg("order"),
           py::arg("batch_size"), py::arg("first"), py::arg("last"), py::arg("lrs"), py::arg("step"),
           "Train batches [first, last) of the epoch ordered by `order`; their Totals (step + batches updates).")
      .def("evaluate", &PyPlan::evaluate, py::arg("x"), py::arg("y"), py::arg("labels"), py::arg("weights") = py::none())
      .def("predict", &PyPlan::predict, py::arg("x"), py::arg("out"), py::arg("batch_size") = 1024,
           "out = the model's outputs for x (probabilities for cross-entropy losses); thread-safe.")
      .def("set_gradient_hook", &PyPlan::set_gradient_hook, py::arg("hook"),
           "hook(grads, rows, step) between backward and update (None removes it).")
      .def("set_shard", &PyPlan::set_shard, py::arg("rank"), py::arg("ranks"),
           "Data parallelism: train shard `rank` of `ranks` of every batch (batch_size is the whole batch's, "
           "up to max_batch * ranks), normalised by the whole batch; the gradient hook must sum the ranks' "
           "gradients.")
      .def_property_readonly("shard", &PyPlan::shard, "(rank, ranks) after set_shard, else None.")
      .def_property("penalty_per_sample", &PyPlan::penalty_per_sample, &PyPlan::set_penalty_per_sample,
                    "False: a batch's l1/l2 penalty as configured (Keras). True: divided by the batch's total "
                    "sample weight, its rows without weights (scikit-learn's alpha).")
      .def_property_readonly("last_step", &PyPlan::last_step,
                             "Updates applied when the last train call ended (normally or by an exception).");
}
