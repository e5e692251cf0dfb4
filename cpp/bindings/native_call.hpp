// What every binding holds while a kernel runs: the GIL released, denormals flushed to zero.
#pragma once
#include <pybind11/pybind11.h>
#include "denso/fpenv.hpp"

namespace denso {

struct NativeCall {
  pybind11::gil_scoped_release gil;
  FlushDenormals denormals;
};

}  // namespace denso
