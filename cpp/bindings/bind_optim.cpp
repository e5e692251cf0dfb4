// Optimizer updates over flat arrays: check → release the GIL → call → return.
// Arrays of any ndim are read as flat C-contiguous buffers; all must share param's dtype and size.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <array>
#include <string>
#include <vector>
#include "checks.hpp"
#include "native_call.hpp"
#include "denso/optimizers.hpp"

namespace py = pybind11;
using namespace denso;
using namespace denso::checks;

namespace {

// The buffers of one call: checks each against `param` and that no written buffer overlaps another.
class Buffers {
 public:
  explicit Buffers(const py::array& param) : size_(param.size()), param_shape_(shape_str(param)) {}

  // Pointer to `obj`'s data (null when `obj` is None and not `required`).
  template <class T>
  T* get(const py::object& obj, const char* name, bool writeable, bool required, const char* why = "") {
    if (obj.is_none()) {
      if (required) fail(std::string("`") + name + "` is required " + why + ", got None");
      return nullptr;
    }
    if (!py::isinstance<py::array>(obj))
      throw py::type_error(std::string("`") + name + "` must be a numpy array, got " +
                           py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
    auto a = py::reinterpret_borrow<py::array>(obj);
    require_dtype<T>(a, name);
    if (!(a.flags() & py::array::c_style))
      fail(std::string("`") + name + "` must be C-contiguous; pass np.ascontiguousarray(...)");
    if (writeable && !a.writeable()) fail(std::string("`") + name + "` is updated in place and must be writeable");
    if (a.size() != size_)
      fail(std::string("`") + name + "` must have as many elements as `param` of shape " + param_shape_ + ", got " +
           shape_str(a));
    const char* begin = static_cast<const char*>(a.data());
    for (const auto& s : seen_)
      if ((writeable || s.writeable) && size_ > 0 && begin < s.begin + a.nbytes() && s.begin < begin + a.nbytes())
        fail(std::string("`") + name + "` must not share memory with `" + s.name + "`");
    seen_.push_back({begin, name, writeable});
    return static_cast<T*>(const_cast<void*>(a.data()));
  }

  Index size() const { return static_cast<Index>(size_); }

 private:
  struct Seen {
    const char* begin;
    const char* name;
    bool writeable;
  };
  py::ssize_t size_;
  std::string param_shape_;
  std::vector<Seen> seen_;
};

void require_step(long step) {
  if (step < 1) fail("`step` counts updates from 1, got " + std::to_string(step));
}

void sgd_update_py(py::array param, const py::array& grad, const py::object& momentum_buffer, long step, double lr,
                   double momentum, double dampening, double weight_decay, bool nesterov) {
  require_step(step);
  dispatch_float(param, "param", [&](auto tag) {
    using T = decltype(tag);
    Buffers b(param);
    T* p = b.get<T>(param, "param", true, true);
    const T* g = b.get<T>(grad, "grad", false, true);
    T* buf = b.get<T>(momentum_buffer, "momentum_buffer", true, momentum != 0, "when momentum != 0");
    const SgdConfig c{lr, momentum, dampening, weight_decay, nesterov};
    NativeCall native;
    sgd_update<T>(c, step, b.size(), p, g, buf);
  });
}

void rmsprop_update_py(py::array param, const py::array& grad, const py::array& square_avg,
                       const py::object& grad_avg, const py::object& momentum_buffer, long step, double lr,
                       double alpha, double eps, double momentum, double weight_decay, bool centered) {
  require_step(step);
  dispatch_float(param, "param", [&](auto tag) {
    using T = decltype(tag);
    Buffers b(param);
    T* p = b.get<T>(param, "param", true, true);
    const T* g = b.get<T>(grad, "grad", false, true);
    T* v = b.get<T>(square_avg, "square_avg", true, true);
    T* ga = b.get<T>(grad_avg, "grad_avg", true, centered, "when centered=True");
    T* buf = b.get<T>(momentum_buffer, "momentum_buffer", true, momentum > 0, "when momentum > 0");
    const RmspropConfig c{lr, alpha, eps, momentum, weight_decay, centered};
    NativeCall native;
    rmsprop_update<T>(c, step, b.size(), p, g, v, ga, buf);
  });
}

void adam_update_py(py::array param, const py::array& grad, py::array exp_avg, py::array exp_avg_sq,
                    const py::object& max_exp_avg_sq, long step, double lr, double beta1, double beta2, double eps,
                    double weight_decay, bool amsgrad, bool decoupled_weight_decay) {
  require_step(step);
  dispatch_float(param, "param", [&](auto tag) {
    using T = decltype(tag);
    Buffers b(param);
    T* p = b.get<T>(param, "param", true, true);
    const T* g = b.get<T>(grad, "grad", false, true);
    T* m = b.get<T>(exp_avg, "exp_avg", true, true);
    T* v = b.get<T>(exp_avg_sq, "exp_avg_sq", true, true);
    T* vmax = b.get<T>(max_exp_avg_sq, "max_exp_avg_sq", true, amsgrad, "when amsgrad=True");
    const AdamConfig c{lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled_weight_decay};
    NativeCall native;
    adam_update<T>(c, step, b.size(), p, g, m, v, vmax);
  });
}

void optimizer_update_py(const OptimizerConfig& c, long step, py::array param, const py::array& grad,
                         const py::sequence& slots) {
  require_step(step);
  const int count = optimizer_slot_count(c);
  if (static_cast<int>(py::len(slots)) != count)
    fail("`slots` must hold " + std::to_string(count) + " state buffers for this config, got " +
         std::to_string(py::len(slots)));
  dispatch_float(param, "param", [&](auto tag) {
    using T = decltype(tag);
    Buffers b(param);
    T* p = b.get<T>(param, "param", true, true);
    const T* g = b.get<T>(grad, "grad", false, true);
    std::array<T*, 3> s{};
    static const char* names[] = {"slots[0]", "slots[1]", "slots[2]"};
    for (int i = 0; i < count; ++i) s[i] = b.get<T>(slots[i], names[i], true, true);
    NativeCall native;
    optimizer_update<T>(c, step, b.size(), p, g, s.data());
  });
}

OptimizerKind kind_from(const py::object& kind) {
  if (!py::isinstance<py::str>(kind)) return kind.cast<OptimizerKind>();
  const auto name = kind.cast<std::string>();
  if (name == "sgd") return OptimizerKind::sgd;
  if (name == "rmsprop") return OptimizerKind::rmsprop;
  if (name == "adam") return OptimizerKind::adam;
  fail("`kind` must be one of 'sgd', 'rmsprop', 'adam', got '" + name + "'");
}

std::string config_repr(const OptimizerConfig& c) {
  static const char* kinds[] = {"sgd", "rmsprop", "adam"};
  auto num = [](double x) { return py::repr(py::float_(x)).cast<std::string>(); };
  auto flag = [](bool b) { return std::string(b ? "True" : "False"); };
  return std::string("OptimizerConfig(kind='") + kinds[static_cast<int>(c.kind)] + "', lr=" + num(c.lr) +
         ", momentum=" + num(c.momentum) + ", dampening=" + num(c.dampening) + ", alpha=" + num(c.alpha) +
         ", eps=" + num(c.eps) + ", beta1=" + num(c.beta1) + ", beta2=" + num(c.beta2) +
         ", weight_decay=" + num(c.weight_decay) + ", nesterov=" + flag(c.nesterov) +
         ", centered=" + flag(c.centered) + ", amsgrad=" + flag(c.amsgrad) +
         ", decoupled_weight_decay=" + flag(c.decoupled_weight_decay) + ")";
}

}  // namespace

void bind_optim(py::module_& m) {
  py::enum_<OptimizerKind>(m, "OptimizerKind")
      .value("sgd", OptimizerKind::sgd)
      .value("rmsprop", OptimizerKind::rmsprop)
      .value("adam", OptimizerKind::adam);

  py::class_<OptimizerConfig>(m, "OptimizerConfig",
                              "Hyperparameters of any optimizer (AdamW = adam with decoupled_weight_decay).")
      .def(py::init([](const py::object& kind, double lr, double momentum, double dampening, double alpha,
                       double eps, double beta1, double beta2, double weight_decay, bool nesterov, bool centered,
                       bool amsgrad, bool decoupled_weight_decay) {
             return OptimizerConfig{kind_from(kind), lr,           momentum, dampening, alpha,   eps,
                                    beta1,           beta2,        weight_decay, nesterov, centered, amsgrad,
                                    decoupled_weight_decay};
           }),
           py::arg("kind"), py::arg("lr"), py::arg("momentum") = 0.0, py::arg("dampening") = 0.0,
           py::arg("alpha") = 0.99, py::arg("eps") = 1e-8, py::arg("beta1") = 0.9, py::arg("beta2") = 0.999,
           py::arg("weight_decay") = 0.0, py::arg("nesterov") = false, py::arg("centered") = false,
           py::arg("amsgrad") = false, py::arg("decoupled_weight_decay") = false,
           "`kind` is an OptimizerKind or one of 'sgd', 'rmsprop', 'adam'; fields other kinds use are ignored.")
      .def_readwrite("kind", &OptimizerConfig::kind)
      .def_readwrite("lr", &OptimizerConfig::lr)
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
      .def("__repr__", &config_repr);

  m.def("optimizer_slot_count", &optimizer_slot_count, py::arg("config"),
        "Number of state buffers (each the size of the parameter) optimizer_update needs for `config`.");
  m.def("optimizer_update", &optimizer_update_py, py::arg("config"), py::arg("step"), py::arg("param"),
        py::arg("grad"), py::arg("slots"),
        "One update of `param` in place for any OptimizerConfig. `slots` holds optimizer_slot_count(config) "
        "buffers: sgd [momentum_buffer]; rmsprop square_avg, [grad_avg], [momentum_buffer]; "
        "adam exp_avg, exp_avg_sq, [max_exp_avg_sq]. `step` counts this parameter's updates from 1.");
  m.def("sgd_update", &sgd_update_py, py::arg("param"), py::arg("grad"), py::arg("momentum_buffer"),
        py::arg("step"), py::arg("lr"), py::arg("momentum") = 0.0, py::arg("dampening") = 0.0,
        py::arg("weight_decay") = 0.0, py::arg("nesterov") = false,
        "torch.optim.SGD step in place on `param` (and `momentum_buffer`, required when momentum != 0; "
        "set to grad at step 1).");
  m.def("rmsprop_update", &rmsprop_update_py, py::arg("param"), py::arg("grad"), py::arg("square_avg"),
        py::arg("grad_avg"), py::arg("momentum_buffer"), py::arg("step"), py::arg("lr"), py::arg("alpha") = 0.99,
        py::arg("eps") = 1e-8, py::arg("momentum") = 0.0, py::arg("weight_decay") = 0.0,
        py::arg("centered") = false,
        "torch.optim.RMSprop step in place; `grad_avg` is required when centered, `momentum_buffer` when "
        "momentum > 0 (else None).");
  m.def("adam_update", &adam_update_py, py::arg("param"), py::arg("grad"), py::arg("exp_avg"),
        py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq"), py::arg("step"), py::arg("lr"), py::arg("beta1") = 0.9,
        py::arg("beta2") = 0.999, py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0, py::arg("amsgrad") = false,
        py::arg("decoupled_weight_decay") = false,
        "torch.optim.Adam (or AdamW with decoupled_weight_decay=True) step in place; `max_exp_avg_sq` is "
        "required when amsgrad (else None). `step` counts updates from 1.");
}
