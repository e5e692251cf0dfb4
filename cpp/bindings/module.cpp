// The extension module denso._core: one registration call per area.
#include <pybind11/pybind11.h>
#include <Eigen/Core>
#include "denso/blas_kernel.hpp"
#include "denso/gemm.hpp"

namespace py = pybind11;

void bind_kernels(py::module_& m);
void bind_plan(py::module_& m);
void bind_optim(py::module_& m);
void bind_training(py::module_& m);

PYBIND11_MODULE(_core, m) {
  m.doc() = "denso's C++ kernels (private; use the denso package).";
  m.attr("__version__") = DENSO_VERSION;
  m.def("set_num_threads", [](long long n) {
    if (n < 1 || n > denso::kMaxThreads)
      throw std::invalid_argument("`n` must be a number of threads in [1, " + std::to_string(denso::kMaxThreads) +
                                  "], got " + std::to_string(n));
    const int used = denso::set_num_threads(int(n));
    if (used < n)
      throw std::runtime_error("set_num_threads(" + std::to_string(n) + "): the system refused to start more than " +
                               std::to_string(used) + " threads (a process or memory limit); denso uses " +
                               std::to_string(used));
  }, py::arg("n"), "Threads used by the GEMMs and the elementwise passes (1 to 1024).");
  m.def("get_num_threads", &denso::get_num_threads);
  m.def("parallel_regions", [] { return denso::ThreadPool::instance().regions(); },
        "Regions the thread pool has handed to its team so far (those run inline on one thread not counted).");
  m.def("blas_info", &denso::blas_info, "The BLAS under the large products and the CPU kernel it chose.");
  m.def("preferred_openblas_coretype", []() -> py::object {
    const char* kernel = denso::preferred_openblas_coretype();
    return kernel ? py::object(py::str(kernel)) : py::object(py::none());
  }, "The OpenBLAS kernel set denso prefers on this CPU (None: OpenBLAS's own choice); see denso._blas_kernel.");
  m.def("gemm_engine", [](bool trans_a, bool trans_b, denso::Index m, denso::Index n, denso::Index k) {
    return std::string(denso::detail::uses_blas(trans_a, trans_b, m, n, k) ? "openblas" : "eigen");
  }, py::arg("trans_a"), py::arg("trans_b"), py::arg("m"), py::arg("n"), py::arg("k"),
     "The engine one thread's share of an m×n product with inner size k goes to: 'openblas' or 'eigen'.");
  m.def("simd_instruction_sets", [] { return std::string(Eigen::SimdInstructionSetsInUse()); });
  bind_kernels(m);
  bind_plan(m);
  bind_optim(m);
  bind_training(m);
}
