// Row-major Eigen views over caller-owned memory: the only file that spells out the storage order.
#pragma once
#include <Eigen/Core>
#include <cstdint>

namespace denso {

using Index = Eigen::Index;

template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using RowVec = Eigen::Matrix<T, 1, Eigen::Dynamic>;

// Mutable / read-only views: samples are rows, features are columns. Kernels take these Refs;
// vectors come in as raw pointers or the Maps below.
template <class T>
using MatRef = Eigen::Ref<Matrix<T>>;
template <class T>
using CMatRef = Eigen::Ref<const Matrix<T>>;

template <class T>
using MapMat = Eigen::Map<Matrix<T>>;
template <class T>
using CMapMat = Eigen::Map<const Matrix<T>>;
template <class T>
using MapVec = Eigen::Map<RowVec<T>>;
template <class T>
using CMapVec = Eigen::Map<const RowVec<T>>;

}  // namespace denso
