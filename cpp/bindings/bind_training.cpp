// What both engines share with the plan: the Totals a pass sums and the rule counting a batch into
// them, the l1/l2 penalty, the keyed random streams (dropout, noise, the epoch's permutation).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <string>
#include "checks.hpp"
#include "native_call.hpp"
#include "denso/regularizers.hpp"
#include "denso/rng.hpp"
#include "denso/shard.hpp"
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

// Sums given by value (the ranks' sums of a data-parallel pass, added up).
Totals totals_from_sums(double loss, double data_loss, double correct, double abs_error, double sq_error,
                        double weight, Index rows, Index batches) {
  Totals t;
  t.loss = loss;
  t.data_loss = data_loss;
  t.correct = correct;
  t.abs_error = abs_error;
  t.sq_error = sq_error;
  t.weight = weight;
  t.rows = rows;
  t.batches = batches;
  return t;
}

// (offset, rows, total) of rank `rank` of `ranks` in the batch `batch` (sample indices into weights).
py::tuple batch_shard_py(const py::array& batch, const py::object& weights, Index rank, Index ranks) {
  require_dtype<std::int64_t>(batch, "batch");
  require_layout(batch, "batch", 1, false);
  if (ranks < 1) fail("`ranks` must be >= 1, got " + std::to_string(ranks));
  if (rank < 0 || rank >= ranks)
    fail("`rank` must be in [0, " + std::to_string(ranks - 1) + "], got " + std::to_string(rank));
  const auto* idx = static_cast<const std::int64_t*>(batch.data());
  const Index n = batch.shape(0);
  Shard s;
  if (weights.is_none()) {
    s = batch_shard<float>(nullptr, idx, n, rank, ranks);
  } else {
    py::array w = as_array(weights, "weights");
    require_layout(w, "weights", 1, false);
    for (Index i = 0; i < n; ++i)
      if (idx[i] < 0 || idx[i] >= w.shape(0)) fail("`batch` indexes outside `weights`");
    s = dispatch_float(w, "weights", [&](auto tag) {
      using T = decltype(tag);
      return batch_shard<T>(static_cast<const T*>(w.data()), idx, n, rank, ranks);
    });
  }
  return py::make_tuple(s.offset, s.rows, s.total);
}

void bind_totals(py::module_& m) {
  py::class_<Totals>(m, "Totals", "Sums over the batches of a pass: loss·rows, correct answers, |error|, rows.")
      .def(py::init<>())
      .def_static("from_sums", &totals_from_sums, py::arg("loss"), py::arg("data_loss"), py::arg("correct"),
                  py::arg("abs_error"), py::arg("sq_error"), py::arg("weight"), py::arg("rows"), py::arg("batches"),
                  "Finite Totals with these sums (e.g. the ranks' sums of a data-parallel pass added up).")
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
  m.def("batch_shard", &batch_shard_py, py::arg("batch"), py::arg("weights"), py::arg("rank"), py::arg("ranks"),
        "(offset, rows, total): the contiguous rows [offset, offset + rows) of the batch `batch` that rank `rank` "
        "of `ranks` trains, and the whole batch's total sample weight (its rows without weights) - the plan's rule.");
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
  m.def("all_finite", [](const py::array& values) {
    if (!(values.flags() & py::array::c_style))
      throw py::type_error("`values` must be a C-contiguous array, got a non-contiguous one");
    return dispatch_float(values, "values", [&](auto tag) {
      using T = decltype(tag);
      const T* data = static_cast<const T*>(values.data());
      const auto n = static_cast<Index>(values.size());
      NativeCall native;  // a big array takes milliseconds
      return all_finite<T>(data, n);
    });
  }, py::arg("values"), "Whether every value of a C-contiguous float32/float64 array is finite (no NaN, no inf).");
}

void require_row_offset(Index row_offset) {
  if (row_offset < 0 || row_offset > (Index(1) << 40))
    fail("`row_offset` must be in [0, 2**40], got " + std::to_string(row_offset));
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
                              py::array mask, Index row_offset) {
    require_row_offset(row_offset);
    dispatch_float(x, "x", [&](auto tag) {
      using T = decltype(tag);
      auto X = mut_matrix<T>(x, "x");
      auto M = mut_matrix<T>(mask, "mask");
      require_shape(M, "mask", X.rows(), X.cols());
      if (!(rate >= 0.0 && rate < 1.0)) fail("`rate` must be in [0, 1), got " + std::to_string(rate));
      NativeCall native;
      dropout_forward<T>(seed, layer, step, rate, X, M, row_offset);
    });
  }, py::arg("seed"), py::arg("layer"), py::arg("step"), py::arg("rate"), py::arg("x"), py::arg("mask"),
     py::arg("row_offset") = 0,
     "Inverted dropout in place on x; mask receives 0 or 1/(1-rate). Row r draws the numbers of batch row "
     "row_offset + r.");
  m.def("gaussian_noise_forward", [](std::uint64_t seed, Index layer, std::uint64_t step, double stddev, py::array x,
                                     Index row_offset) {
    require_row_offset(row_offset);
    dispatch_float(x, "x", [&](auto tag) {
      using T = decltype(tag);
      auto X = mut_matrix<T>(x, "x");
      if (!(stddev >= 0.0)) fail("`stddev` must be >= 0, got " + std::to_string(stddev));
      NativeCall native;
      gaussian_noise_forward<T>(seed, layer, step, stddev, X, row_offset);
    });
  }, py::arg("seed"), py::arg("layer"), py::arg("step"), py::arg("stddev"), py::arg("x"), py::arg("row_offset") = 0,
     "x += stddev * N(0, 1); row r draws the numbers of batch row row_offset + r.");
}

}  // namespace

void bind_training(py::module_& m) {
  bind_totals(m);
  bind_penalty(m);
  bind_random(m);
}
