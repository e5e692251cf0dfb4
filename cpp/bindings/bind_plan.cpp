// The compiled training plan, plus the random/penalty kernels the graph path shares with it.
// The Python object keeps every array the plan maps alive (it holds the py::array handles).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
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

OptimizerConfig optimizer_config(const py::dict& d) {
  OptimizerConfig c;
  const auto kind = d["kind"].cast<std::string>();
  if (kind == "sgd") c.kind = OptimizerKind::sgd;
  else if (kind == "rmsprop") c.kind = OptimizerKind::rmsprop;
  else if (kind == "adam") c.kind = OptimizerKind::adam;
  else fail("optimizer `kind` must be 'sgd', 'rmsprop' or 'adam', got '" + kind + "'");
  auto num = [&](const char* k, double& v) { if (d.contains(k)) v = d[k].cast<double>(); };
  auto flag = [&](const char* k, bool& v) { if (d.contains(k)) v = d[k].cast<bool>(); };
  num("lr", c.lr); num("momentum", c.momentum); num("dampening", c.dampening); num("alpha", c.alpha);
  num("eps", c.eps); num("beta1", c.beta1); num("beta2", c.beta2); num("weight_decay", c.weight_decay);
  flag("nesterov", c.nesterov); flag("centered", c.centered); flag("amsgrad", c.amsgrad);
  flag("decoupled_weight_decay", c.decoupled_weight_decay);
  return c;
}

LossKind loss_kind(const std::string& name) {
  if (name == "mse") return LossKind::mse;
  if (name == "bce_logits") return LossKind::bce_logits;
  if (name == "softmax_xent_labels") return LossKind::softmax_xent_labels;
  if (name == "softmax_xent") return LossKind::softmax_xent;
  fail("`loss` must be one of mse, bce_logits, softmax_xent_labels, softmax_xent; got '" + name + "'");
}

DenseSpec dense_spec(const py::dict& d) {
  DenseSpec s;
  s.in = d["in"].cast<Index>();
  s.out = d["out"].cast<Index>();
  s.activation = d["activation"].cast<Activation>();
  s.alpha = d["alpha"].cast<double>();
  s.use_bias = d["use_bias"].cast<bool>();
  s.l1 = d["l1"].cast<double>();
  s.l2 = d["l2"].cast<double>();
  s.weight_offset = d["weight_offset"].cast<Index>();
  s.bias_offset = d["bias_offset"].cast<Index>();
  for (auto t : d["transforms"].cast<py::list>()) {
    auto tup = t.cast<py::tuple>();
    const auto kind = tup[0].cast<std::string>();
    if (kind != "dropout" && kind != "gaussian_noise") fail("unknown input transform '" + kind + "'");
    s.transforms.push_back({kind == "dropout" ? TransformKind::dropout : TransformKind::gaussian_noise,
                            tup[1].cast<double>(), tup[2].cast<Index>()});
  }
  return s;
}

// Plan<float> or Plan<double>, chosen by the parameter buffer's dtype, plus the arrays it maps.
class PyPlan {
 public:
  PyPlan(const py::list& layers, const std::string& loss, const py::dict& optimizer, Index max_batch,
         std::uint64_t seed, py::array params, py::array grads, const py::list& slots)
      : params_(params), grads_(grads) {
    if (max_batch < 1) fail("`max_batch` must be >= 1, got " + std::to_string(max_batch));
    if (layers.size() == 0) fail("`layers` must describe at least one dense layer");
    std::vector<DenseSpec> specs;
    Index needed = 0;
    for (auto l : layers) {
      specs.push_back(dense_spec(l.cast<py::dict>()));
      const auto& s = specs.back();
      needed = std::max({needed, s.weight_offset + s.in * s.out, s.use_bias ? s.bias_offset + s.out : 0});
      if (specs.size() > 1 && specs[specs.size() - 2].out != s.in)
        fail("layer " + std::to_string(specs.size() - 1) + " expects " + std::to_string(s.in) +
             " inputs but the previous layer has " + std::to_string(specs[specs.size() - 2].out) + " units");
    }
    const OptimizerConfig opt = optimizer_config(optimizer);
    dispatch_float(params, "params", [&](auto tag) {
      using T = decltype(tag);
      auto P = flat<T>(params_, "params", needed, true);
      auto G = flat<T>(grads_, "grads", needed, true);
      if (Index(slots.size()) != optimizer_slot_count(opt))
        fail("optimizer needs " + std::to_string(optimizer_slot_count(opt)) + " state buffers, got " +
             std::to_string(slots.size()));
      std::vector<T*> slot_ptrs;
      for (auto s : slots) {
        slots_.push_back(s.cast<py::array>());
        slot_ptrs.push_back(flat<T>(slots_.back(), "slots", py::array(params_).size(), true));
      }
      plan_ = std::make_unique<Plan<T>>(std::move(specs), loss_kind(loss), opt, max_batch, seed, P, G, slot_ptrs);
      return 0;
    });
  }

  void set_optimizer(const py::dict& optimizer) {
    const auto c = optimizer_config(optimizer);
    std::visit([&](auto& p) { p->set_optimizer(c); }, plan_);
  }

  py::dict train(const py::array& x, const py::object& y, const py::object& labels, const py::array& order,
                 Index batch_size, Index first, Index last, const py::array& lrs, long step) {
    return std::visit([&](auto& p) {
      using T = typename std::decay_t<decltype(*p)>::Scalar;
      const Index n = check_data(*p, x, y, labels);
      require_dtype<std::int64_t>(order, "order");
      require_layout(order, "order", 1, false);
      if (order.shape(0) != n) fail("`order` must have one entry per sample (" + std::to_string(n) + ")");
      if (batch_size < 1 || batch_size > p->max_batch())
        fail("`batch_size` must be in [1, " + std::to_string(p->max_batch()) + "], got " + std::to_string(batch_size));
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
      Totals t;
      {
        NativeCall native;
        t = p->train(data<T>(x), target<T>(y), label_ptr(labels), n, idx, batch_size, first, last,
                     static_cast<const double*>(lrs.data()), &step);
      }
      auto d = totals_dict(t);
      d["step"] = step;
      return d;
    }, plan_);
  }

  py::dict evaluate(const py::array& x, const py::object& y, const py::object& labels) {
    return std::visit([&](auto& p) {
      using T = typename std::decay_t<decltype(*p)>::Scalar;
      const Index n = check_data(*p, x, y, labels);
      Totals t;
      {
        NativeCall native;
        t = p->evaluate(data<T>(x), target<T>(y), label_ptr(labels), n);
      }
      return totals_dict(t);
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

 private:
  py::array params_, grads_;
  std::vector<py::array> slots_;
  std::variant<std::unique_ptr<Plan<float>>, std::unique_ptr<Plan<double>>> plan_;

  template <class T>
  static T* flat(py::array& a, const char* name, Index size, bool writeable) {
    require_dtype<T>(a, name);
    if (!(a.flags() & py::array::c_style)) fail(std::string("`") + name + "` must be C-contiguous");
    if (writeable && !a.writeable()) fail(std::string("`") + name + "` must be writeable");
    if (a.size() < size)
      fail(std::string("`") + name + "` must hold at least " + std::to_string(size) + " values, got " +
           std::to_string(a.size()));
    return static_cast<T*>(a.mutable_data());
  }

  template <class P>
  static Index check_data(const P& p, const py::array& x, const py::object& y, const py::object& labels);
  template <class T>
  static const T* data(const py::array& x) { return static_cast<const T*>(x.data()); }
  template <class T>
  static const T* target(const py::object& y) {
    return y.is_none() ? nullptr : static_cast<const T*>(py::reinterpret_borrow<py::array>(y).data());
  }
  static const std::int64_t* label_ptr(const py::object& labels) {
    return labels.is_none() ? nullptr
                            : static_cast<const std::int64_t*>(py::reinterpret_borrow<py::array>(labels).data());
  }

  static py::dict totals_dict(const Totals& t) {
    py::dict d;
    d["loss"] = t.loss; d["data_loss"] = t.data_loss; d["correct"] = t.correct; d["abs_error"] = t.abs_error;
    d["rows"] = t.rows; d["batches"] = t.batches; d["finite"] = t.finite; d["bad_batch"] = t.bad_batch;
    return d;
  }
};

// x: n × inputs; exactly one of y (n × outputs, for mse/bce/probability targets) or labels (n, int64).
template <class P>
Index PyPlan::check_data(const P& p, const py::array& x, const py::object& y, const py::object& labels) {
  using T = typename P::Scalar;
  auto X = matrix<T>(x, "x");
  if (X.cols() != p.in()) fail("`x` must have " + std::to_string(p.in()) + " columns, got shape " + shape_str(x));
  if (X.rows() == 0) fail("`x` must hold at least one sample");
  if (p.uses_labels() == labels.is_none() || y.is_none() == labels.is_none())
    fail(p.uses_labels() ? "this plan's loss needs integer `labels` and no `y`"
                         : "this plan's loss needs a target matrix `y` and no `labels`");
  if (!y.is_none()) require_shape(matrix<T>(py::reinterpret_borrow<py::array>(y), "y"), "y", X.rows(), p.outputs());
  if (!labels.is_none()) {
    auto l = py::reinterpret_borrow<py::array>(labels);
    require_dtype<std::int64_t>(l, "labels");
    require_layout(l, "labels", 1, false);
    if (l.shape(0) != X.rows()) fail("`labels` must have one entry per row of `x`");
    const auto* v = static_cast<const std::int64_t*>(l.data());
    for (Index i = 0; i < X.rows(); ++i)
      if (v[i] < 0 || v[i] >= p.outputs())
        fail("`labels` must lie in [0, " + std::to_string(p.outputs()) + "), got " + std::to_string(v[i]));
  }
  return X.rows();
}

template <class T>
double add_weight_penalty_py(const py::array& weight, py::array grad, double l1, double l2) {
  auto W = matrix<T>(weight, "weight");
  auto G = mut_matrix<T>(grad, "grad");
  require_shape(G, "grad", W.rows(), W.cols());
  NativeCall native;
  return add_weight_penalty<T>(W.data(), G.data(), W.size(), l1, l2);
}

}  // namespace

void bind_plan(py::module_& m) {
  py::class_<PyPlan>(m, "Plan")
      .def(py::init<const py::list&, const std::string&, const py::dict&, Index, std::uint64_t, py::array, py::array,
                    const py::list&>(),
           py::arg("layers"), py::arg("loss"), py::arg("optimizer"), py::arg("max_batch"), py::arg("seed"),
           py::arg("params"), py::arg("grads"), py::arg("slots"))
      .def("set_optimizer", &PyPlan::set_optimizer, py::arg("optimizer"))
      .def("train", &PyPlan::train, py::arg("x"), py::arg("y"), py::arg("labels"), py::arg("order"),
           py::arg("batch_size"), py::arg("first"), py::arg("last"), py::arg("lrs"), py::arg("step"),
           "Train batches [first, last) of the epoch ordered by `order`; returns sums and the new step.")
      .def("evaluate", &PyPlan::evaluate, py::arg("x"), py::arg("y"), py::arg("labels"))
      .def("predict", &PyPlan::predict, py::arg("x"), py::arg("out"), py::arg("batch_size") = 1024,
           "out = the model's outputs for x (probabilities for cross-entropy losses); thread-safe.");

  m.def("shuffled_indices", [](std::uint64_t seed, std::uint64_t epoch, py::array out) {
    require_dtype<std::int64_t>(out, "out");
    require_layout(out, "out", 1, true);
    auto* dst = static_cast<std::int64_t*>(out.mutable_data());
    const Index n = out.shape(0);
    NativeCall native;
    shuffled_indices(seed, epoch, n, dst);
  }, py::arg("seed"), py::arg("epoch"), py::arg("out"), "out = the (seed, epoch) permutation of 0..n-1.");
  m.def("dropout_forward", [](std::uint64_t seed, Index layer, std::uint64_t step, double rate, py::array x,
                              py::array mask) {
    dispatch_float(x, "x", [&](auto tag) {
      using T = decltype(tag);
      auto X = mut_matrix<T>(x, "x");
      auto M = mut_matrix<T>(mask, "mask");
      require_shape(M, "mask", X.rows(), X.cols());
      if (!(rate >= 0.0 && rate < 1.0)) fail("`rate` must be in [0, 1), got " + std::to_string(rate));
      NativeCall native;
      dropout_forward<T>(seed, layer, step, rate, X, M);
      return 0;
    });
  }, py::arg("seed"), py::arg("layer"), py::arg("step"), py::arg("rate"), py::arg("x"), py::arg("mask"),
     "Inverted dropout in place on x; mask receives 0 or 1/(1-rate).");
  m.def("gaussian_noise_forward", [](std::uint64_t seed, Index layer, std::uint64_t step, double stddev, py::array x) {
    dispatch_float(x, "x", [&](auto tag) {
      using T = decltype(tag);
      auto X = mut_matrix<T>(x, "x");
      if (!(stddev >= 0.0)) fail("`stddev` must be >= 0, got " + std::to_string(stddev));
      NativeCall native;
      gaussian_noise_forward<T>(seed, layer, step, stddev, X);
      return 0;
    });
  }, py::arg("seed"), py::arg("layer"), py::arg("step"), py::arg("stddev"), py::arg("x"), "x += stddev * N(0, 1).");
  m.def("add_weight_penalty", [](const py::array& weight, py::array grad, double l1, double l2) {
    return dispatch_float(weight, "weight", [&](auto tag) {
      return add_weight_penalty_py<decltype(tag)>(weight, grad, l1, l2);
    });
  }, py::arg("weight"), py::arg("grad"), py::arg("l1"), py::arg("l2"),
     "grad += 2*l2*W + l1*sign(W); returns l2*sum(W^2) + l1*sum(|W|).");
}
