// Every matrix product of the kernels goes through gemm(): it picks the engine by shape and splits
// big products over the thread pool.
//
// Engines: OpenBLAS (scipy-openblas32, when the build found it) for products with enough rows, Eigen
// for 1-row products (a GEMV), few-row products with B transposed, and as the fallback build. OpenBLAS always runs single-threaded inside our pool threads: one team owns
// the cores, so its pthreads pool never spins against ours.
#pragma once
#include <algorithm>
#include <string>
#include "denso/threads.hpp"
#include "denso/types.hpp"
#ifdef DENSO_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace denso {

// Which engine a product goes to, from `denso-bench`'s few-row table (AMD Zen 4, first layer's shapes,
// one thread, GFLOP/s Eigen vs OpenBLAS): X·W at 1 row 52 vs 52, at 2 rows 26 vs 95; G·Wᵀ (B
// transposed) at 2 rows 23 vs 16, at 4 rows 36 vs 30, at 8 rows 50 vs 47, at 16 rows 53 vs 64.
// Issue #8 measured OpenBLAS's sgemm 4x slower than Eigen at 1 row on Zen 3, so 1 row stays on Eigen.
constexpr Index kBlasMinRows = 2;
constexpr Index kBlasMinRowsTransB = 16;
// Products below this many multiply-adds stay on Eigen (OpenBLAS's packing costs more than it saves).
constexpr double kBlasMinWork = 1 << 15;
// Below this many multiply-adds a product stays on one thread; at 1-2 output rows always, since
// splitting a matrix-vector product moves the weights between the cores' caches.
constexpr double kSplitMinWork = 1 << 16;
constexpr Index kSplitMinRows = 3;
// ... unless the caller asks for it (inference, where no optimizer pass owns the weights): a 1-row
// product of at least this much work then streams half the columns on each thread (784×256 at 2
// threads: 9.9 -> 6.4 µs). In training the same split made batch-1 steps slower (63 -> 80 µs).
constexpr double kSplitVectorMinWork = 1 << 17;
// One chunk per thread: every chunk packs the shared operand again (a second chunk per thread cost
// 5-8% of the GEMM share at 2 threads), and a late worker's chunk is claimed by the caller anyway.
constexpr Index kGemmChunksPerThread = 1;

inline bool have_blas() {
#ifdef DENSO_HAVE_OPENBLAS
  return true;
#else
  return false;
#endif
}

// The BLAS in use and the kernel it picked for this CPU, e.g. "OpenBLAS 0.3.34 (Haswell)".
inline std::string blas_info() {
#ifdef DENSO_HAVE_OPENBLAS
  std::string config = scipy_openblas_get_config();
  const auto space = config.find(' ', config.find(' ') + 1);  // "OpenBLAS 0.3.x ..."
  return config.substr(0, space) + " (" + scipy_openblas_get_corename() + ")";
#else
  return "none (Eigen only)";
#endif
}

namespace detail {

#ifdef DENSO_HAVE_OPENBLAS
// OpenBLAS's own threads stay idle: we call it from every pool thread, one block each. Checked on
// every call, since others can change it (threadpoolctl, which scikit-learn uses, sets every BLAS
// in the process).
inline void blas_single_threaded() {
  if (scipy_openblas_get_num_threads() != 1) scipy_openblas_set_num_threads(1);
}

inline void blas_gemm(bool ta, bool tb, Index m, Index n, Index k, const float* A, Index lda, const float* B,
                      Index ldb, float* C, Index ldc, float beta) {
  scipy_cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n),
                    int(k), 1.0f, A, int(lda), B, int(ldb), beta, C, int(ldc));
}
inline void blas_gemm(bool ta, bool tb, Index m, Index n, Index k, const double* A, Index lda, const double* B,
                      Index ldb, double* C, Index ldc, double beta) {
  scipy_cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n),
                    int(k), 1.0, A, int(lda), B, int(ldb), beta, C, int(ldc));
}
#endif

// Whether gemm() hands this product (m output rows) to OpenBLAS.
inline bool uses_blas(bool ta, bool tb, Index m, Index n, Index k) {
  if (!have_blas() || k == 0) return false;
  const Index min_rows = (tb && !ta) ? kBlasMinRowsTransB : kBlasMinRows;
  return m >= min_rows && double(m) * double(n) * double(k) >= kBlasMinWork;
}

template <class T>
using StridedMap = Eigen::Map<const Matrix<T>, 0, Eigen::OuterStride<>>;

template <class T>
void eigen_gemm(bool ta, bool tb, Index m, Index n, Index k, const T* A, Index lda, const T* B, Index ldb, T* C,
                Index ldc, bool accumulate) {
  Eigen::Map<Matrix<T>, 0, Eigen::OuterStride<>> c(C, m, n, Eigen::OuterStride<>(ldc));
  auto run = [&](const auto& a, const auto& b) {
    if (accumulate)
      c.noalias() += a * b;
    else
      c.noalias() = a * b;
  };
  const StridedMap<T> a(A, ta ? k : m, ta ? m : k, Eigen::OuterStride<>(lda));
  const StridedMap<T> b(B, tb ? n : k, tb ? k : n, Eigen::OuterStride<>(ldb));
  if (ta && tb) run(a.transpose(), b.transpose());
  else if (ta) run(a.transpose(), b);
  else if (tb) run(a, b.transpose());
  else run(a, b);
}

// One block on the calling thread, with the engine its shape calls for.
template <class T>
void gemm_block(bool ta, bool tb, Index m, Index n, Index k, const T* A, Index lda, const T* B, Index ldb, T* C,
                Index ldc, bool accumulate) {
  if (m == 0 || n == 0) return;
#ifdef DENSO_HAVE_OPENBLAS
  if (uses_blas(ta, tb, m, n, k)) {
    blas_single_threaded();
    blas_gemm(ta, tb, m, n, k, A, lda, B, ldb, C, ldc, accumulate ? T(1) : T(0));
    return;
  }
#endif
  eigen_gemm<T>(ta, tb, m, n, k, A, lda, B, ldb, C, ldc, accumulate);
}

}  // namespace detail

// C (m×n, leading dimension ldc) = op(A)·op(B), or += with `accumulate`. Row-major throughout:
// op(A) is m×k (A is k×m when ta), op(B) is k×n (B is n×k when tb). Big products are split over the
// pool along whichever of C's dimensions leaves the smaller operand to be read by every thread;
// blocks are multiples of 16 so every thread keeps full SIMD lanes.
template <class T>
void gemm(bool ta, bool tb, Index m, Index n, Index k, const T* A, Index lda, const T* B, Index ldb, T* C, Index ldc,
          bool accumulate, bool split_vector = false) {
  const int threads = get_num_threads();
  const double work = double(m) * double(n) * double(k);
  const bool split_rows = n <= m;
  const Index extent = split_rows ? m : n;
  const bool few_rows = m < kSplitMinRows && !(split_vector && work >= kSplitVectorMinWork);
  if (threads < 2 || few_rows || work < kSplitMinWork || extent < 32) {
    detail::gemm_block<T>(ta, tb, m, n, k, A, lda, B, ldb, C, ldc, accumulate);
    return;
  }
  const Index blocks = (extent + 15) / 16;
  const Index chunks = std::min<Index>(blocks, kGemmChunksPerThread * threads);
  run_team(threads, chunks, [&](Index c, Index nc) {
    const Index lo = std::min(extent, blocks * c / nc * 16), hi = std::min(extent, blocks * (c + 1) / nc * 16);
    if (hi <= lo) return;
    if (split_rows)  // rows lo..hi of C: rows of op(A)
      detail::gemm_block<T>(ta, tb, hi - lo, n, k, ta ? A + lo : A + lo * lda, lda, B, ldb, C + lo * ldc, ldc,
                            accumulate);
    else  // columns lo..hi of C: columns of op(B)
      detail::gemm_block<T>(ta, tb, m, hi - lo, k, A, lda, tb ? B + lo * ldb : B + lo, ldb, C + lo, ldc, accumulate);
  });
}

// The three products of a dense layer, on Eigen views (strides taken from the views).
// C (+)= A·B; `split_vector`: see kSplitVectorMinWork.
template <class T>
void matmul(CMatRef<T> A, CMatRef<T> B, MatRef<T> C, bool accumulate, bool split_vector = false) {
  gemm<T>(false, false, C.rows(), C.cols(), A.cols(), A.data(), A.outerStride(), B.data(), B.outerStride(), C.data(),
          C.outerStride(), accumulate, split_vector);
}
// C (+)= Aᵀ·B
template <class T>
void matmul_tn(CMatRef<T> A, CMatRef<T> B, MatRef<T> C, bool accumulate) {
  gemm<T>(true, false, C.rows(), C.cols(), A.rows(), A.data(), A.outerStride(), B.data(), B.outerStride(), C.data(),
          C.outerStride(), accumulate);
}
// C (+)= A·Bᵀ
template <class T>
void matmul_nt(CMatRef<T> A, CMatRef<T> B, MatRef<T> C, bool accumulate) {
  gemm<T>(false, true, C.rows(), C.cols(), A.cols(), A.data(), A.outerStride(), B.data(), B.outerStride(), C.data(),
          C.outerStride(), accumulate);
}

}  // namespace denso
