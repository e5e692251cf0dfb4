// Argument checks for the bindings: wrong dtype → TypeError, wrong shape/layout → ValueError.
// Messages name the argument, what was expected and what arrived.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>
#include "denso/finite.hpp"
#include "denso/types.hpp"

namespace denso::checks {
namespace py = pybind11;

inline std::string shape_str(const py::array& a) {
  std::ostringstream s;
  s << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s << (i ? ", " : "") << a.shape(i);
  s << (a.ndim() == 1 ? ",)" : ")");
  return s.str();
}

inline std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

[[noreturn]] inline void fail(const std::string& msg) { throw std::invalid_argument(msg); }

inline std::string type_name(const py::handle& h) { return Py_TYPE(h.ptr())->tp_name; }

// `a` may be any object a caller reinterpreted as an array: check that before reading its dtype.
// The expected dtype's name is formatted only on failure: a Python str() per call cost ~1 µs.
template <class T>
void require_dtype(const py::array& a, const char* name) {
  auto expected = [] { return py::str(py::dtype::of<T>()).cast<std::string>(); };
  if (!py::isinstance<py::array>(a))
    throw py::type_error(std::string("`") + name + "` must be a numpy array of dtype " + expected() + ", got " +
                         type_name(a));
  if (!a.dtype().equal(py::dtype::of<T>()))  // equivalent, not identical: a float64 with metadata is float64
    throw py::type_error(std::string("`") + name + "` must have dtype " + expected() +
                         " like the other operands, got " + dtype_str(a));
}

inline void require_layout(const py::array& a, const char* name, py::ssize_t ndim, bool writeable) {
  if (a.ndim() != ndim)
    fail(std::string("`") + name + "` must be " + std::to_string(ndim) + "-D, got array of shape " + shape_str(a));
  if (!(a.flags() & py::array::c_style))
    fail(std::string("`") + name + "` must be C-contiguous (row-major); pass np.ascontiguousarray(...)");
  if (writeable && !a.writeable()) fail(std::string("`") + name + "` is an output and must be writeable");
}

template <class T>
CMapMat<T> matrix(const py::array& a, const char* name) {
  require_dtype<T>(a, name);
  require_layout(a, name, 2, false);
  return CMapMat<T>(static_cast<const T*>(a.data()), a.shape(0), a.shape(1));
}

template <class T>
MapMat<T> mut_matrix(py::array& a, const char* name) {
  require_dtype<T>(a, name);
  require_layout(a, name, 2, true);
  return MapMat<T>(static_cast<T*>(a.mutable_data()), a.shape(0), a.shape(1));
}

// An optional argument (typed py::object) as an array; anything else is a TypeError naming it.
inline py::array as_array(const py::object& a, const char* name) {
  if (!py::isinstance<py::array>(a))
    throw py::type_error(std::string("`") + name + "` must be a numpy array or None, got " + type_name(a));
  return py::reinterpret_borrow<py::array>(a);
}

// The one check of a flat buffer (params, grads, optimizer state): an array of T of any ndim, read as
// flat, C-contiguous, writeable when it is written. `size_rule` says what its size must be, for the
// message: `exact` values, or `at least` that many.
enum class SizeRule { exact, at_least };

template <class T>
T* flat_buffer(const py::object& obj, const char* name, Index size, bool writeable, SizeRule rule = SizeRule::exact,
               const std::string& size_note = "") {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(std::string("`") + name + "` must be a numpy array, got " + type_name(obj));
  auto a = py::reinterpret_borrow<py::array>(obj);
  require_dtype<T>(a, name);
  if (!(a.flags() & py::array::c_style))
    fail(std::string("`") + name + "` must be C-contiguous; pass np.ascontiguousarray(...)");
  if (writeable && !a.writeable()) fail(std::string("`") + name + "` is updated in place and must be writeable");
  const bool ok = rule == SizeRule::exact ? a.size() == size : a.size() >= size;
  if (!ok) {
    const std::string want = size_note.empty() ? std::to_string(size) + " values" : size_note;
    fail(std::string("`") + name + "` must hold " + (rule == SizeRule::exact ? "" : "at least ") + want +
         ", got shape " + shape_str(a));
  }
  return const_cast<T*>(static_cast<const T*>(a.data()));
}

// A set of flat buffers of one size (a parameter and its gradient and state): each checked with
// flat_buffer, and no written buffer may share memory with another (a kernel writing one while
// reading the other would read its own output).
class FlatBuffers {
 public:
  FlatBuffers(Index size, std::string what) : size_(size), what_(std::move(what)) {}

  template <class T>
  T* get(const py::object& obj, const std::string& name, bool writeable) {
    T* data = flat_buffer<T>(obj, name.c_str(), size_, writeable, SizeRule::exact, what_);
    const char* begin = reinterpret_cast<const char*>(data);
    const auto bytes = static_cast<std::size_t>(size_) * sizeof(T);
    for (const auto& s : seen_)
      if ((writeable || s.writeable) && size_ > 0 && begin < s.begin + bytes && s.begin < begin + bytes)
        fail("`" + name + "` must not share memory with `" + s.name + "`");
    seen_.push_back({begin, name, writeable});
    return data;
  }

  Index size() const { return size_; }

 private:
  struct Seen {
    const char* begin;
    std::string name;
    bool writeable;
  };
  Index size_;
  std::string what_;  // the size rule, for messages: "as many values as `param` of shape (4,)"
  std::vector<Seen> seen_;
};

// Python's repr of a number, for messages that quote what arrived.
inline std::string repr_number(double v) { return py::repr(py::float_(v)).cast<std::string>(); }

// A bound enum's value must be one of its members: pybind11 lets any integer through (Kind(7)).
template <class E>
E require_enum(E value, E last, const char* name) {
  if (static_cast<unsigned>(value) > static_cast<unsigned>(last))
    fail(std::string("`") + name + "` is not a valid " + name + " value: got " +
         std::to_string(static_cast<int>(value)));
  return value;
}

// Integer class labels: a 1-D int64 array with one entry per row of `rows_of` (`rows` rows), each
// in [0, classes). The one check of every binding that takes labels.
inline const std::int64_t* labels_vector(const py::object& obj, Index rows, Index classes, const char* rows_of) {
  auto a = as_array(obj, "labels");
  require_dtype<std::int64_t>(a, "labels");
  require_layout(a, "labels", 1, false);
  if (a.shape(0) != rows)
    fail("`labels` must have " + std::to_string(rows) + " entries (one per row of `" + rows_of + "`), got shape " +
         shape_str(a));
  const auto* v = static_cast<const std::int64_t*>(a.data());
  for (Index i = 0; i < rows; ++i)
    if (v[i] < 0 || v[i] >= classes)
      fail("`labels` must lie in [0, " + std::to_string(classes) + "), got " + std::to_string(v[i]) + " at index " +
           std::to_string(i));
  return v;
}

// Sample weights: None (null), or one finite value >= 0 per row of `rows_of`, of the operands' dtype.
template <class T>
const T* sample_weights(const py::object& obj, Index rows, const char* rows_of) {
  if (obj.is_none()) return nullptr;
  auto a = as_array(obj, "weights");
  require_dtype<T>(a, "weights");
  require_layout(a, "weights", 1, false);
  if (a.shape(0) != rows)
    fail("`weights` must have " + std::to_string(rows) + " entries (one per row of `" + rows_of + "`), got shape " +
         shape_str(a));
  const auto* w = static_cast<const T*>(a.data());
  for (Index i = 0; i < rows; ++i)
    if (!(w[i] >= T(0)) || !std::isfinite(w[i]))
      fail("`weights` must be finite and >= 0, got " + repr_number(double(w[i])) + " at index " + std::to_string(i));
  return w;
}

// A 1-D vector of `length` (null when `a` is None).
template <class T>
const T* vector_or_null(const py::object& a, const char* name, Index length) {
  if (a.is_none()) return nullptr;
  auto arr = as_array(a, name);
  require_dtype<T>(arr, name);
  require_layout(arr, name, 1, false);
  if (arr.shape(0) != length)
    fail(std::string("`") + name + "` must have shape (" + std::to_string(length) + ",), got " + shape_str(arr));
  return static_cast<const T*>(arr.data());
}

template <class T>
T* mut_vector_or_null(const py::object& a, const char* name, Index length) {
  if (a.is_none()) return nullptr;
  if (!as_array(a, name).writeable()) fail(std::string("`") + name + "` is an output and must be writeable");
  return const_cast<T*>(vector_or_null<T>(a, name, length));
}

template <class M>
void require_shape(const M& m, const char* name, Index rows, Index cols) {
  if (m.rows() != rows || m.cols() != cols)
    fail(std::string("`") + name + "` must have shape (" + std::to_string(rows) + ", " + std::to_string(cols) +
         "), got (" + std::to_string(m.rows()) + ", " + std::to_string(m.cols()) + ")");
}

// The vectorised finiteness test first (~0.1 µs for a 784-value sample), the index only on failure;
// the message is the one Python's _checks.require_finite gives.
template <class T, class M>
void require_all_finite(const M& m, const char* name) {
  static_assert(M::IsRowMajor, "rows must be contiguous");
  bool finite = true;
  for (Index r = 0; r < m.rows() && finite; ++r) finite = all_finite<T>(m.data() + r * m.outerStride(), m.cols());
  if (finite) return;
  for (Index r = 0; r < m.rows(); ++r)
    for (Index c = 0; c < m.cols(); ++c) {
      const T v = m(r, c);
      if (std::isfinite(v)) continue;
      const std::string value = std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
      fail(std::string("`") + name + "` must be finite, got " + value + " at index (" + std::to_string(r) + ", " +
           std::to_string(c) + ")");
    }
}

// Outputs written through a GEMM must not overlap its inputs.
template <class A, class B>
void require_no_overlap(const A& out, const char* out_name, const B& in, const char* in_name) {
  const char* o0 = reinterpret_cast<const char*>(out.data());
  const char* o1 = o0 + out.size() * sizeof(*out.data());
  const char* i0 = reinterpret_cast<const char*>(in.data());
  const char* i1 = i0 + in.size() * sizeof(*in.data());
  if (out.size() && in.size() && o0 < i1 && i0 < o1)
    fail(std::string("`") + out_name + "` must not share memory with `" + in_name + "`");
}

// Calls f.template operator()<float|double>() after checking `a`'s dtype is one of the two.
template <class F>
auto dispatch_float(const py::array& a, const char* name, F&& f) {
  if (a.dtype().equal(py::dtype::of<float>())) return f(float{});
  if (a.dtype().equal(py::dtype::of<double>())) return f(double{});
  throw py::type_error(std::string("`") + name + "` must have dtype float32 or float64, got " + dtype_str(a));
}

}  // namespace denso::checks
