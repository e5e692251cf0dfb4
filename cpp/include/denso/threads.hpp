// One thread count for Eigen's GEMMs and our own OpenMP passes.
#pragma once
#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <utility>
#include "denso/fpenv.hpp"
#include "denso/types.hpp"
#ifdef _OPENMP
#include <omp.h>
#endif

namespace denso {

// Elementwise passes (activations, optimizer updates) smaller than this stay on one thread: waking
// a team costs more than it saves. Measured: Adam over 235k values takes 124 us alone, 62 us on two.
constexpr Index kParallelMinElements = 1L << 15;

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
inline int pass_threads(Index elements) {
  return elements >= kParallelMinElements ? get_num_threads() : 1;
}

// body(t, nt) on each of `threads` threads. Each thread flushes denormals itself: pool threads may
// have been created by another library's OpenMP runtime (torch loads its own globally) without the
// caller's FTZ/DAZ setting.
template <class F>
void run_team(int threads, F&& body) {
#pragma omp parallel num_threads(threads)
  {
    FlushDenormals denormals;
#ifdef _OPENMP
    body(Index(omp_get_thread_num()), Index(omp_get_num_threads()));
#else
    body(Index(0), Index(1));
#endif
  }
}

// body(begin, end) over contiguous blocks of [0, n), one per thread when the pass is big enough;
// `elements` is the pass's size in values (n rows of a matrix hold more than n values).
template <class F>
void parallel_for(Index n, Index elements, F&& body) {
  const int threads = n > 1 ? pass_threads(elements) : 1;
  if (threads <= 1) {
    body(Index(0), n);
    return;
  }
  run_team(threads, [&](Index t, Index nt) { body(n * t / nt, n * (t + 1) / nt); });
}

template <class F>
void parallel_for(Index n, F&& body) {
  parallel_for(n, n, std::forward<F>(body));
}

inline bool has_openmp() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

}  // namespace denso
