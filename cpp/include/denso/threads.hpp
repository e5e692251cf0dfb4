// One thread count for Eigen's GEMMs and our own OpenMP passes.
#pragma once
#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace denso {

// Elementwise passes (activations, optimizer updates) smaller than this stay on one thread: waking
// a team costs more than it saves. Measured: Adam over 235k values takes 124 us alone, 62 us on two.
constexpr long kParallelMinElements = 1L << 15;

inline std::atomic<int>& thread_count() {
#ifdef _OPENMP
  static std::atomic<int> count{std::max(1, omp_get_max_threads())};
#else
  static std::atomic<int> count{1};
#endif
  return count;
}

inline int get_num_threads() { return thread_count().load(); }

inline void set_num_threads(int n) {
  thread_count().store(n);
  Eigen::setNbThreads(n);
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
}

// Threads for an elementwise pass over `elements` values.
inline int pass_threads(long elements) {
  return elements >= kParallelMinElements ? get_num_threads() : 1;
}

inline bool has_openmp() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

}  // namespace denso
