// Dense, activation and loss kernels: check → release the GIL → call → return.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <cmath>
#include <cstdint>
#include <optional>
#include <sstream>
#include "checks.hpp"
#include "native_call.hpp"
#include "denso/dense.hpp"
#include "denso/losses.hpp"

namespace py = pybind11;
using namespace denso;
using namespace denso::checks;

namespace {

// The backward pass tells leaky_relu's and elu's branches apart by the sign of the output: alpha >= 0.
void require_alpha(Activation act, double alpha) {
  if ((act == Activation::leaky_relu || act == Activation::elu) && !(alpha >= 0 && std::isfinite(alpha))) {
    std::ostringstream got;
    got << alpha;
    fail(std::string("`alpha` of ") + (act == Activation::elu ? "elu" : "leaky_relu") + " must be >= 0, got " +
         got.str());
  }
}

// The optional pre-activation buffer `name` (rows × cols of T, apart from `other`): null for None.
template <class T>
T* preactivation_or_null(const py::object& obj, const char* name, Index rows, Index cols) {
  if (obj.is_none()) return nullptr;
  auto a = as_array(obj, name);
  auto Z = mut_matrix<T>(a, name);
  require_shape(Z, name, rows, cols);
  return Z.data();
}

void dense_forward_py(const py::array& x, const py::array& weight, const py::object& bias, py::array out,
                      Activation act, double alpha, const py::object& pre) {
  dispatch_float(x, "x", [&](auto tag) {
    using T = decltype(tag);
    auto X = matrix<T>(x, "x");
    auto W = matrix<T>(weight, "weight");
    auto A = mut_matrix<T>(out, "out");
    if (W.rows() != X.cols())
      fail("`weight` must have " + std::to_string(X.cols()) + " rows to match `x` of shape " + shape_str(x) +
           ", got " + shape_str(weight));
    const T* b = vector_or_null<T>(bias, "bias", W.cols());
    require_shape(A, "out", X.rows(), W.cols());
    require_alpha(act, alpha);
    require_no_overlap(A, "out", X, "x");
    require_no_overlap(A, "out", W, "weight");
    if (b) require_no_overlap(A, "out", CMapVec<T>(b, W.cols()), "bias");
    T* Z = preactivation_or_null<T>(pre, "pre", X.rows(), W.cols());
    if (Z) {
      const MapMat<T> zm(Z, X.rows(), W.cols());
      require_no_overlap(zm, "pre", A, "out");
      require_no_overlap(zm, "pre", X, "x");
      require_no_overlap(zm, "pre", W, "weight");
    }
    NativeCall native;
    dense_forward<T>(X, W, b, act, T(alpha), A, false, Z);
  });
}

// The row-wise activation passes: check `in` and `out` (shaped like it, apart from it unless
// `in_place_ok` and the very same array), then pass(In, Out, T(alpha)) with the GIL released.
template <class Pass>
void activation_pass(const py::array& in, const char* in_name, py::array& out, const char* out_name,
                     Activation act, double alpha, bool in_place_ok, Pass pass) {
  dispatch_float(in, in_name, [&](auto tag) {
    using T = decltype(tag);
    auto In = matrix<T>(in, in_name);
    auto Out = mut_matrix<T>(out, out_name);
    require_shape(Out, out_name, In.rows(), In.cols());
    require_alpha(act, alpha);
    if (!(in_place_ok && Out.data() == In.data())) require_no_overlap(Out, out_name, In, in_name);
    NativeCall native;
    pass(In, Out, T(alpha));
  });
}

void activation_forward_py(const py::array& z, py::array out, Activation act, double alpha) {
  activation_pass(z, "z", out, "out", act, alpha, /*in_place_ok=*/true, [act](auto Z, auto A, auto a) {
    using T = decltype(a);
    if (A.data() != Z.data()) A = Z;
    bias_activate<T>(A, nullptr, act, a);
  });
}

// `z` (the pre-activation) is read only by the activations that need_preactivation, which require it.
void activation_backward_py(const py::array& out, py::array grad, Activation act, double alpha, const py::object& z) {
  if (needs_preactivation(act) && z.is_none())
    fail("the backward pass of gelu and swish needs `z`, the pre-activation input, got None");
  activation_pass(out, "out", grad, "grad", act, alpha, /*in_place_ok=*/false, [&](auto A, auto G, auto a) {
    using T = decltype(a);
    const T* Z = nullptr;
    if (!z.is_none()) {
      auto zm = matrix<T>(as_array(z, "z"), "z");
      require_shape(zm, "z", A.rows(), A.cols());
      require_no_overlap(G, "grad", zm, "z");
      Z = zm.data();
    }
    activation_backward<T>(A, Z, G, act, a);
  });
}

void dense_backward_params_py(const py::array& x, const py::array& grad, py::array grad_weight,
                              const py::object& grad_bias, bool accumulate) {
  dispatch_float(x, "x", [&](auto tag) {
    using T = decltype(tag);
    auto X = matrix<T>(x, "x");
    auto G = matrix<T>(grad, "grad");
    auto dW = mut_matrix<T>(grad_weight, "grad_weight");
    if (G.rows() != X.rows())
      fail("`grad` must have " + std::to_string(X.rows()) + " rows like `x`, got shape " + shape_str(grad));
    require_shape(dW, "grad_weight", X.cols(), G.cols());
    T* db = mut_vector_or_null<T>(grad_bias, "grad_bias", G.cols());
    require_no_overlap(dW, "grad_weight", X, "x");
    require_no_overlap(dW, "grad_weight", G, "grad");
    if (db) {
      const MapVec<T> dbv(db, G.cols());
      require_no_overlap(dbv, "grad_bias", X, "x");
      require_no_overlap(dbv, "grad_bias", G, "grad");
      require_no_overlap(dbv, "grad_bias", dW, "grad_weight");
    }
    NativeCall native;
    dense_backward_params<T>(X, G, dW, db, accumulate);
  });
}

void dense_backward_input_py(const py::array& grad, const py::array& weight, py::array grad_input,
                             bool accumulate) {
  dispatch_float(grad, "grad", [&](auto tag) {
    using T = decltype(tag);
    auto G = matrix<T>(grad, "grad");
    auto W = matrix<T>(weight, "weight");
    auto dX = mut_matrix<T>(grad_input, "grad_input");
    if (W.cols() != G.cols())
      fail("`weight` must have " + std::to_string(G.cols()) + " columns to match `grad`, got shape " +
           shape_str(weight));
    require_shape(dX, "grad_input", G.rows(), W.rows());
    require_no_overlap(dX, "grad_input", G, "grad");
    require_no_overlap(dX, "grad_input", W, "weight");
    NativeCall native;
    dense_backward_input<T>(G, W, dX, accumulate);
  });
}

// The optional `grad` output of a loss: writeable, shaped like `like` and apart from it; empty for None.
template <class T>
std::optional<MapMat<T>> loss_grad(const py::object& grad, const CMapMat<T>& like, const char* like_name) {
  if (grad.is_none()) return std::nullopt;
  auto g = as_array(grad, "grad");
  auto G = mut_matrix<T>(g, "grad");
  require_shape(G, "grad", like.rows(), like.cols());
  require_no_overlap(G, "grad", like, like_name);
  return G;
}

// The optional `total` of a loss: None (the rows' own Σ w), or a batch total >= 0 (see kOwnTotal).
double batch_total(const py::object& total) {
  if (total.is_none()) return kOwnTotal;
  if (!PyNumber_Check(total.ptr()) || PyBool_Check(total.ptr()))
    throw py::type_error("`total` must be a number or None, got " + type_name(total));
  const double t = py::float_(total).cast<double>();
  if (!(t >= 0.0 && std::isfinite(t))) fail("`total` must be a finite number >= 0 or None, got " + repr_number(t));
  return t;
}

// A loss whose target is a matrix like the prediction, as one binding for float and double:
// checks, then kernel(CMatRef<T> pred, CMatRef<T> target, T* grad or null, const T* weights or null,
// double total) with the GIL released.
template <class Kernel>
auto matrix_target_loss(const char* pred_name, Kernel kernel) {
  return [pred_name, kernel](const py::array& pred, const py::array& target, const py::object& grad,
                             const py::object& weights, const py::object& total) {
    const double normaliser = batch_total(total);
    return dispatch_float(pred, pred_name, [&](auto tag) {
      using T = decltype(tag);
      auto P = matrix<T>(pred, pred_name);
      auto Y = matrix<T>(target, "target");
      require_shape(Y, "target", P.rows(), P.cols());
      auto G = loss_grad<T>(grad, P, pred_name);
      if (G) require_no_overlap(*G, "grad", Y, "target");
      if (P.rows() == 0 || P.cols() == 0)
        fail(std::string("`") + pred_name + "` must hold at least one sample and one output, got shape " +
             shape_str(pred));
      const T* w = sample_weights<T>(weights, P.rows(), pred_name);
      NativeCall native;
      return kernel(CMatRef<T>(P), CMatRef<T>(Y), G ? G->data() : nullptr, w, normaliser);
    });
  };
}

double huber_loss_py(const py::array& pred, const py::array& target, const py::object& grad,
                     const py::object& weights, double delta, const py::object& total) {
  if (!(delta > 0 && std::isfinite(delta)))
    fail("`delta` of the huber loss must be a finite number > 0, got " + repr_number(delta));
  auto kernel = [delta](auto P, auto Y, auto* d, auto* w, double t) { return huber_loss(P, Y, d, w, delta, t); };
  return matrix_target_loss("pred", kernel)(pred, target, grad, weights, total);
}

double softmax_xent_labels_loss_py(const py::array& logits, const py::array& labels, const py::object& grad,
                                   const py::object& weights, const py::object& total) {
  const double normaliser = batch_total(total);
  return dispatch_float(logits, "logits", [&](auto tag) {
    using T = decltype(tag);
    auto Z = matrix<T>(logits, "logits");
    const auto* y = labels_vector(labels, Z.rows(), Z.cols(), "logits");
    if (Z.rows() == 0) fail("`logits` must hold at least one sample, got 0 rows");
    auto G = loss_grad<T>(grad, Z, "logits");  // the kernel reads labels and logits while writing grad
    if (G)
      require_no_overlap(*G, "grad", Eigen::Map<const Eigen::Matrix<std::int64_t, 1, Eigen::Dynamic>>(y, Z.rows()),
                         "labels");
    const T* w = sample_weights<T>(weights, Z.rows(), "logits");
    NativeCall native;
    return softmax_xent_labels_loss<T>(Z, y, G ? G->data() : nullptr, w, normaliser);
  });
}

}  // namespace

void bind_kernels(py::module_& m) {
  py::enum_<Activation>(m, "Activation")
      .value("identity", Activation::identity)
      .value("relu", Activation::relu)
      .value("leaky_relu", Activation::leaky_relu)
      .value("sigmoid", Activation::sigmoid)
      .value("tanh", Activation::tanh)
      .value("softmax", Activation::softmax)
      .value("step", Activation::step)
      .value("gelu", Activation::gelu)
      .value("elu", Activation::elu)
      .value("selu", Activation::selu)
      .value("softplus", Activation::softplus)
      .value("swish", Activation::swish);
  m.def("needs_preactivation", &needs_preactivation, py::arg("activation"),
        "Whether the activation's backward pass needs the pre-activation z besides its output (gelu, swish).");

  m.def("dense_forward", &dense_forward_py, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("out"),
        py::arg("activation"), py::arg("alpha") = 0.01, py::arg("pre") = py::none(),
        "out = g(x @ weight + bias), in place on `out`; `pre`, when given, receives x @ weight + bias.");
  m.def("activation_forward", &activation_forward_py, py::arg("z"), py::arg("out"), py::arg("activation"),
        py::arg("alpha") = 0.01, "out = g(z) row-wise; `out` may be `z`.");
  m.def("activation_backward", &activation_backward_py, py::arg("out"), py::arg("grad"), py::arg("activation"),
        py::arg("alpha") = 0.01, py::arg("z") = py::none(),
        "grad *= g'(z), with g' recovered from the activation output `out` (from the pre-activation `z`, "
        "required, for gelu and swish); in place.");
  m.def("dense_backward_params", &dense_backward_params_py, py::arg("x"), py::arg("grad"),
        py::arg("grad_weight"), py::arg("grad_bias"), py::arg("accumulate") = false,
        "grad_weight (+)= x.T @ grad; grad_bias (+)= grad.sum(0).");
  m.def("dense_backward_input", &dense_backward_input_py, py::arg("grad"), py::arg("weight"),
        py::arg("grad_input"), py::arg("accumulate") = false, "grad_input (+)= grad @ weight.T.");
  // Every loss: `weights` (one per row, >= 0) makes the mean a weighted one, Σ w·ℓ / Σ w; `total`
  // replaces that Σ w (or n) by a whole batch's, for a shard of it (data-parallel training).
  m.def("mse_loss",
        matrix_target_loss("pred", [](auto P, auto Y, auto* d, auto* w, double t) { return mse_loss(P, Y, d, w, t); }),
        py::arg("pred"), py::arg("target"), py::arg("grad") = py::none(), py::arg("weights") = py::none(),
        py::arg("total") = py::none(),
        "Mean squared error over all elements; writes its gradient into `grad` when given.");
  m.def("mae_loss",
        matrix_target_loss("pred", [](auto P, auto Y, auto* d, auto* w, double t) { return mae_loss(P, Y, d, w, t); }),
        py::arg("pred"), py::arg("target"), py::arg("grad") = py::none(), py::arg("weights") = py::none(),
        py::arg("total") = py::none(),
        "Mean absolute error over all elements (subgradient 0 at 0); gradient into `grad` when given.");
  m.def("huber_loss", &huber_loss_py, py::arg("pred"), py::arg("target"), py::arg("grad") = py::none(),
        py::arg("weights") = py::none(), py::arg("delta") = 1.0, py::arg("total") = py::none(),
        "Huber loss with threshold `delta` (> 0), mean over all elements; gradient into `grad` when given.");
  m.def("bce_logits_loss",
        matrix_target_loss("logits",
                           [](auto Z, auto Y, auto* d, auto* w, double t) { return bce_logits_loss(Z, Y, d, w, t); }),
        py::arg("logits"), py::arg("target"), py::arg("grad") = py::none(), py::arg("weights") = py::none(),
        py::arg("total") = py::none(),
        "Binary cross-entropy from logits, mean over all elements; gradient into `grad` when given.");
  m.def("softmax_xent_loss",
        matrix_target_loss("logits",
                           [](auto Z, auto Y, auto* d, auto* w, double t) { return softmax_xent_loss(Z, Y, d, w, t); }),
        py::arg("logits"), py::arg("target"), py::arg("grad") = py::none(), py::arg("weights") = py::none(),
        py::arg("total") = py::none(),
        "Softmax cross-entropy with probability targets, mean over rows.");
  m.def("softmax_xent_labels_loss", &softmax_xent_labels_loss_py, py::arg("logits"), py::arg("labels"),
        py::arg("grad") = py::none(), py::arg("weights") = py::none(), py::arg("total") = py::none(),
        "Softmax cross-entropy with int64 labels, mean over rows.");
}
