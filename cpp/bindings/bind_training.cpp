// What both engines share with the plan: the Totals a pass sums and the rule counting a batch into
// them, the l1/l2 penalty, the keyed random streams (dropout, noise, the epoch's permutation).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <string>
#include "checks.hpp"
#include "native_call.hpp"
#include "denso/regularizers.hpp"
#include "denso/rng.hpp"
#include "denso/totals.hpp"

namespace py = pybind11;
using namespace denso;
using namespace denso::checks;

namespace {

std::string totals_repr(const Totals& t) {
  const auto num = repr_number;
  return "Totals(loss=" + num(t.loss) + ", data_loss=" + num(t.data_loss) + ", correct=" + num(t.correct) +
         ", abs_error=" + num(t.abs_error) + ", sq_error=" + num(t.sq_error) + ", weight=" + num(t.weight) +
         ", rows=" + std::to_string(t.rows) + ", batches=" +
         std::to_string(t.batches) + ", finite=" + (t.finite ? "True" : "False") + ", bad_batch=" +
         std::to_string(t.bad_batch) + ", overflowed=" + (t.overflowed ? "True" : "False") + ")";
}

// One batch of the graph path counted exactly as the plan counts its own.
Totals count_batch_py(LossKind kind, const py::array& logits, const py::object& y, const py::object& labels,
                      double data_loss, double penalty, const py::object& weights) {
  require_enum(kind, LossKind::huber, "loss");
  return dispatch_float(logits, "logits", [&](auto tag) {
    using T = decltype(tag);
    auto Z = matrix<T>(logits, "logits");
    if (uses_labels(kind) != !labels.is_none() || uses_labels(kind) == !y.is_none())
      fail(uses_labels(kind) ? "this loss counts against integer `labels` and no `y`"
                             : "this loss counts against a target matrix `y` and no `labels`");
    Totals t;
    if (!labels.is_none()) {
      const auto* l = labels_vector(labels, Z.rows(), Z.cols(), "logits");
      count_batch<T>(kind, Z, Z, l, sample_weights<T>(weights, Z.rows(), "logits"), data_loss, penalty,
                     t);  // y unused with labels
    } else {
      auto Y = matrix<T>(as_array(y, "y"), "y");
      require_shape(Y, "y", Z.rows(), Z.cols());
      count_batch<T>(kind, Z, Y, nullptr, sample_weights<T>(weights, Z.rows(), "logits"), data_loss, penalty, t);
    }
    return t;
  });
}

void bind_totals(py::module_& m) {
  py::class_<Totals>(m, "Totals", "Sums over the batches of a pass: loss·rows, correct answers, |error|, rows.")
      .def(py::init<>())
      .def_static("stopped_at", [](Index batch) {
        Totals t;
        t.finite = false;
        t.bad_batch = batch;
        return t;
      }, py::arg("batch"), "Empty sums of a call that a non-finite loss stopped at `batch`.")
      .def_static("overflow", [] {
        Totals t;
        t.overflowed = true;
        return t;
      }, "Empty sums marking that an update left a NaN/inf weight.")
      .def_readonly("loss", &Totals::loss)
      .def_readonly("data_loss", &Totals::data_loss)
      .def_readonly("correct", &Totals::correct)
      .def_readonly("abs_error", &Totals::abs_error)
      .def_readonly("sq_error", &Totals::sq_error)
      .def_readonly("weight", &Totals::weight)
      .def_readonly("rows", &Totals::rows)
      .def_readonly("batches", &Totals::batches)
      .def_readonly("finite", &Totals::finite)
      .def_readonly("bad_batch", &Totals::bad_batch)
      .def_readonly("overflowed", &Totals::overflowed)
      .def("__iadd__", &Totals::operator+=, py::arg("other"))
      .def("__repr__", &totals_repr);
  m.def("count_batch", &count_batch_py, py::arg("loss"), py::arg("logits"), py::arg("y"), py::arg("labels"),
        py::arg("data_loss"), py::arg("penalty"), py::arg("weights") = py::none(),
        "Totals of one batch: its loss weighted by its rows and its metric counts (the plan's own rule).");
}

template <class T>
double weight_penalty_py(const py::array& weight, const py::object& grad, double l1, double l2) {
  auto W = matrix<T>(weight, "weight");
  if (!(l1 >= 0 && l2 >= 0)) fail("`l1` and `l2` must be >= 0");
  T* G = nullptr;
  if (!grad.is_none()) {
    py::array g = as_array(grad, "grad");
    auto M = mut_matrix<T>(g, "grad");
    require_shape(M, "grad", W.rows(), W.cols());
    G = M.data();
  }
  NativeCall native;
  return G ? add_weight_penalty<T>(W.data(), G, W.size(), l1, l2) : weight_penalty<T>(W.data(), W.size(), l1, l2);
}

void bind_penalty(py::module_& m) {
  m.def("weight_penalty", [](const py::array& weight, const py::object& grad, double l1, double l2) {
    return dispatch_float(weight, "weight", [&](auto tag) {
      return weight_penalty_py<decltype(tag)>(weight, grad, l1, l2);
    });
  }, py::arg("weight"), py::arg("grad"), py::arg("l1"), py::arg("l2"),
     "Returns l2*sum(W^2) + l1*sum(|W|) and, unless grad is None, adds 2*l2*W + l1*sign(W) to grad.");
}

void bind_random(py::module_& m) {
  m.def("shuffled_indices", [](std::uint64_t seed, std::uint64_t epoch, py::array out) {
    require_dtype<std::int64_t>(out, "out");
    require_layout(out, "out", 1, true);
    auto* dst = static_cast<std::int64_t*>(out.mutable_data());
    NativeCall native;
    shuffled_indices(seed, epoch, out.shape(0), dst);
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
    });
  }, py::arg("seed"), py::arg("layer"), py::arg("step"), py::arg("stddev"), py::arg("x"), "x += stddev * N(0, 1).");
}

}  // namespace

void bind_training(py::module_& m) {
  bind_totals(m);
  bind_penalty(m);
  bind_random(m);
}
