// One thread count for every parallel pass and GEMM: denso's own pool (thread_pool.hpp) runs them,
// and the BLAS, when there is one, always runs single-threaded inside a pool thread, so the two
// never compete for the cores.
#pragma once
#include <algorithm>
#include <atomic>
#include <utility>
#include "denso/thread_pool.hpp"
#include "denso/types.hpp"

namespace denso {

// Elementwise passes (activations, optimizer updates) smaller than this stay on one thread: waking
// a team costs more than it saves. Measured: Adam over 235k values takes 124 us alone, 62 us on two.
constexpr Index kParallelMinElements = 1L << 15;

inline std::atomic<int>& thread_count() {
  static std::atomic<int> count{default_thread_count()};
  return count;
}

inline int get_num_threads() { return thread_count().load(); }

// The most threads set_num_threads accepts: far beyond any CPU, small enough that a typo (a
// million) is an error rather than an attempt to start a million threads.
constexpr int kMaxThreads = kMaxTeam;

// Use n threads from now on, starting the pool's workers at once so that a system refusing threads
// is reported here. Returns the threads in use: n, or fewer when the system refused the rest.
inline int set_num_threads(int n) {
  const int started = ThreadPool::instance().start_workers(n - 1) + 1;
  thread_count().store(std::min(n, started));
  return std::min(n, started);
}

// Threads for an elementwise pass over `elements` values.
inline int pass_threads(Index elements) {
  return elements >= kParallelMinElements ? get_num_threads() : 1;
}

// Chunks per thread of a pass: enough that a thread the scheduler delays leaves its share to the
// others, few enough that claiming one stays negligible.
constexpr Index kChunksPerThread = 4;

// body(c, chunks) for each chunk c, on up to `threads` threads; denormals are flushed on all of them.
template <class F>
void run_team(int threads, Index chunks, F&& body) {
  run_on_pool(threads, chunks, std::forward<F>(body));
}

// Start of block t of nt over [0, n), rounded up to a multiple of `grain`.
inline Index block_start(Index n, Index t, Index nt, Index grain) {
  return std::min(n, (n * t / nt + grain - 1) / grain * grain);
}

// body(begin, end) over contiguous blocks of [0, n), one per thread when the pass is big enough;
// `elements` is the pass's size in values (n rows of a matrix hold more than n values). A flat pass
// (one value per index) is cut at multiples of 16 values: every block then starts on a cache line
// when the buffer does (a misaligned 64-byte store splits a line: memory-bound passes ran 2x slower).
template <class F>
void parallel_for(Index n, Index elements, F&& body) {
  const int threads = n > 1 ? pass_threads(elements) : 1;
  if (threads <= 1) {
    body(Index(0), n);
    return;
  }
  const Index grain = n == elements ? 16 : 1;
  const Index chunks = std::min<Index>(threads * kChunksPerThread, (n + grain - 1) / grain);
  run_team(threads, chunks, [&](Index c, Index nc) {
    const Index begin = block_start(n, c, nc, grain), end = block_start(n, c + 1, nc, grain);
    if (begin < end) body(begin, end);
  });
}

template <class F>
void parallel_for(Index n, F&& body) {
  parallel_for(n, n, std::forward<F>(body));
}

}  // namespace denso
