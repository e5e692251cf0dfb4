// The optimizer update over flat arrays: one bound OptimizerConfig for every optimizer, one update
// function (the one the compiled plan runs). check → release the GIL → call → return.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <array>
#include <iterator>
#include <string>
#include <vector>
#include "checks.hpp"
#include "native_call.hpp"
#include "denso/optimizers.hpp"

namespace py = pybind11;
using namespace denso;
using namespace denso::checks;

namespace {

// Indexed by OptimizerKind.
constexpr const char* kKindNames[] = {"sgd", "rmsprop", "adam"};

void optimizer_update_py(const OptimizerConfig& c, long step, py::array param, const py::array& grad,
                         const py::sequence& slots) {
  if (step < 1) fail("`step` counts updates from 1, got " + std::to_string(step));
  const int count = optimizer_slot_count(c);
  if (static_cast<int>(py::len(slots)) != count)
    fail("`slots` must hold " + std::to_string(count) + " state buffers for this config, got " +
         std::to_string(py::len(slots)));
  dispatch_float(param, "param", [&](auto tag) {
    using T = decltype(tag);
    FlatBuffers b(param.size(), "as many values as `param` of shape " + shape_str(param));
    T* p = b.get<T>(param, "param", true);
    const T* g = b.get<T>(grad, "grad", false);
    std::array<T*, 3> s{};
    for (int i = 0; i < count; ++i) s[i] = b.get<T>(slots[i], "slots[" + std::to_string(i) + "]", true);
    NativeCall native;
    optimizer_update<T>(c, step, b.size(), p, g, s.data());
  });
}

OptimizerKind kind_from(const py::object& kind) {
  if (py::isinstance<py::str>(kind)) {
    const auto name = kind.cast<std::string>();
    for (std::size_t i = 0; i < std::size(kKindNames); ++i)
      if (name == kKindNames[i]) return static_cast<OptimizerKind>(i);
    fail("`kind` must be one of 'sgd', 'rmsprop', 'adam', got '" + name + "'");
  }
  return require_enum(kind.cast<OptimizerKind>(), OptimizerKind::adam, "kind");
}

std::string config_repr(const OptimizerConfig& c) {
  const auto num = repr_number;
  auto flag = [](bool b) { return std::string(b ? "True" : "False"); };
  return std::string("OptimizerConfig(kind='") + kKindNames[static_cast<int>(c.kind)] + "', lr=" + num(c.lr) +
         ", momentum=" + num(c.momentum) + ", dampening=" + num(c.dampening) + ", alpha=" + num(c.alpha) +
         ", eps=" + num(c.eps) + ", beta1=" + num(c.beta1) + ", beta2=" + num(c.beta2) +
         ", weight_decay=" + num(c.weight_decay) + ", nesterov=" + flag(c.nesterov) +
         ", centered=" + flag(c.centered) + ", amsgrad=" + flag(c.amsgrad) +
         ", decoupled_weight_decay=" + flag(c.decoupled_weight_decay) + ", epsilon_hat=" + flag(c.epsilon_hat) + ")";
}

OptimizerConfig make_config(const py::object& kind, double lr, double momentum, double dampening, double alpha,
                            double eps, double beta1, double beta2, double weight_decay, bool nesterov,
                            bool centered, bool amsgrad, bool decoupled_weight_decay, bool epsilon_hat) {
  return OptimizerConfig{kind_from(kind), lr,           momentum, dampening, alpha,   eps,
                         beta1,           beta2,        weight_decay, nesterov, centered, amsgrad,
                         decoupled_weight_decay, epsilon_hat};
}

void bind_config(py::module_& m) {
  py::class_<OptimizerConfig> cls(m, "OptimizerConfig",
                                  "Hyperparameters of any optimizer (AdamW = adam with decoupled_weight_decay).");
  cls.def(py::init(&make_config), py::arg("kind"), py::arg("lr"), py::arg("momentum") = 0.0,
          py::arg("dampening") = 0.0, py::arg("alpha") = 0.99, py::arg("eps") = 1e-8, py::arg("beta1") = 0.9,
          py::arg("beta2") = 0.999, py::arg("weight_decay") = 0.0, py::arg("nesterov") = false,
          py::arg("centered") = false, py::arg("amsgrad") = false, py::arg("decoupled_weight_decay") = false,
          py::arg("epsilon_hat") = false,
          "`kind` is an OptimizerKind or one of 'sgd', 'rmsprop', 'adam'; fields other kinds use are ignored.");
  // The kind indexes tables and picks kernels: checked on every write, never out of range.
  cls.def_property(
      "kind", [](const OptimizerConfig& c) { return c.kind; },
      [](OptimizerConfig& c, const py::object& kind) { c.kind = kind_from(kind); });
  cls.def_readwrite("lr", &OptimizerConfig::lr)
      .def_readwrite("momentum", &OptimizerConfig::momentum)
      .def_readwrite("dampening", &OptimizerConfig::dampening)
      .def_readwrite("alpha", &OptimizerConfig::alpha)
      .def_readwrite("eps", &OptimizerConfig::eps)
      .def_readwrite("beta1", &OptimizerConfig::beta1)
      .def_readwrite("beta2", &OptimizerConfig::beta2)
      .def_readwrite("weight_decay", &OptimizerConfig::weight_decay)
      .def_readwrite("nesterov", &OptimizerConfig::nesterov)
      .def_readwrite("centered", &OptimizerConfig::centered)
      .def_readwrite("amsgrad", &OptimizerConfig::amsgrad)
      .def_readwrite("decoupled_weight_decay", &OptimizerConfig::decoupled_weight_decay)
      .def_readwrite("epsilon_hat", &OptimizerConfig::epsilon_hat)
      .def("__repr__", &config_repr);
}

}  // namespace

void bind_optim(py::module_& m) {
  py::enum_<OptimizerKind>(m, "OptimizerKind")
      .value("sgd", OptimizerKind::sgd)
      .value("rmsprop", OptimizerKind::rmsprop)
      .value("adam", OptimizerKind::adam);
  bind_config(m);
  m.def("optimizer_slot_count", &optimizer_slot_count, py::arg("config"),
        "Number of state buffers (each the size of the parameter) optimizer_update needs for `config`.");
  m.def("optimizer_slot_names", [](const OptimizerConfig& c) {
    py::list names;
    for (const char* name : optimizer_slot_names(c)) names.append(name);
    return names;
  }, py::arg("config"), "Names of those state buffers, in the order optimizer_update takes them.");
  m.def("optimizer_update", &optimizer_update_py, py::arg("config"), py::arg("step"), py::arg("param"),
        py::arg("grad"), py::arg("slots"),
        "One update of `param` in place for any OptimizerConfig. `slots` holds optimizer_slot_count(config) "
        "buffers: sgd [momentum_buffer]; rmsprop square_avg, [grad_avg], [momentum_buffer]; "
        "adam exp_avg, exp_avg_sq, [max_exp_avg_sq]. `step` counts this parameter's updates from 1.");
}
