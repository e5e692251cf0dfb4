// denso's own team of worker threads, used by every parallel pass and split GEMM.
//
// Why not OpenMP: libgomp's idle threads spin (GOMP_SPINCOUNT, ~ms) and its wait policy can only be
// set by environment variables read when the library loads. On a 2-core machine with one busy
// neighbour a spinning team took >100 s for a 0.7 s job. Here an idle worker spins for a bounded
// time (kSpinMicros, so back-to-back regions of one training step stay cheap), then sleeps on a
// futex (std::atomic::wait): a woken sleeper preempts a CPU hog quickly, a spinner competes with it.
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(__SSE2__)
#include <immintrin.h>
#endif
#ifdef __linux__
#include <pthread.h>
#include <sched.h>
#endif
#include "denso/fpenv.hpp"
#include "denso/types.hpp"

namespace denso {

// How long an idle thread spins before it sleeps. A training step's regions follow one another
// within a few µs; steps themselves are separated by Python or gather work that can take longer.
constexpr std::int64_t kSpinMicros = 50;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__SSE2__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Spin on `done()` for at most kSpinMicros; true if it became true while spinning.
template <class Done>
bool spin_until(Done&& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
  for (int i = 0;; ++i) {
    if (done()) return true;
    cpu_relax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) return done();
  }
}

// CPUs this process may run on (affinity mask), the default team size.
inline int available_cpus() {
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return std::max(1u, std::thread::hardware_concurrency());
}

// Default thread count: OMP_NUM_THREADS / DENSO_NUM_THREADS when set (first value of a list),
// otherwise every CPU the process may use.
inline int default_thread_count() {
  for (const char* name : {"DENSO_NUM_THREADS", "OMP_NUM_THREADS"}) {
    if (const char* v = std::getenv(name)) {
      const long n = std::strtol(v, nullptr, 10);
      if (n >= 1) return int(std::min<long>(n, 1024));
    }
  }
  return available_cpus();
}

class ThreadPool {
 public:
  using Body = void (*)(void* context, Index t, Index nt);

  static ThreadPool& instance() {
    static ThreadPool* pool = new ThreadPool();  // never destroyed: workers may outlive static teardown
    return *pool;
  }

  // body(context, t, nt) for t in [0, nt) with nt = `threads`; the caller runs t = 0 and returns
  // when every thread is done. A region started from inside a region runs inline with nt = 1;
  // regions from different caller threads take turns (each keeps its thread count, so its numbers).
  void run(int threads, Body body, void* context) {
    FlushDenormals denormals;
    if (threads <= 1 || in_region()) {
      body(context, 0, 1);
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    ensure_workers(threads - 1);
    threads = std::min<int>(threads, int(workers_.size()) + 1);
    body_ = body;
    context_ = context;
    team_ = threads;
    pending_.store(int(workers_.size()), std::memory_order_relaxed);
    epoch_.fetch_add(1, std::memory_order_release);
    epoch_.notify_all();
    {
      RegionFlag flag;
      body(context, 0, threads);
    }
    wait_for_workers();
  }

  ~ThreadPool() = delete;

 private:
  ThreadPool() {
#ifdef __linux__
    // A fork()ed child has none of the parent's workers: start from an empty team there.
    pthread_atfork(nullptr, nullptr, [] { instance().reset_after_fork(); });
#endif
  }

  void reset_after_fork() {
    new (&mutex_) std::mutex();
    workers_.clear();  // detached handles: the threads themselves do not exist in the child
    pending_.store(0);
  }

  struct RegionFlag {
    RegionFlag() { in_region() = true; }
    ~RegionFlag() { in_region() = false; }
  };
  static bool& in_region() {
    thread_local bool flag = false;
    return flag;
  }

  void ensure_workers(int needed) {
    while (int(workers_.size()) < needed) {
      const int index = int(workers_.size()) + 1;
      const std::uint32_t start = epoch_.load(std::memory_order_relaxed);  // before the coming region's bump
      workers_.emplace_back([this, index, start] { work(index, start); });
      workers_.back().detach();
    }
  }

  void work(int index, std::uint32_t seen) {
    in_region() = true;  // a worker's own regions always run inline
    // Denormals are flushed on our own threads for good: they exist only to run our kernels.
#ifdef DENSO_HAVE_MXCSR
    _mm_setcsr(_mm_getcsr() | 0x8040u);
#endif
    for (;;) {
      if (!spin_until([&] { return epoch_.load(std::memory_order_acquire) != seen; }))
        epoch_.wait(seen, std::memory_order_acquire);
      const std::uint32_t now = epoch_.load(std::memory_order_acquire);
      if (now == seen) continue;  // spurious wake-up
      seen = now;
      if (index < team_) body_(context_, index, team_);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
    }
  }

  void wait_for_workers() {
    auto done = [&] { return pending_.load(std::memory_order_acquire) == 0; };
    if (spin_until(done)) return;
    for (int left; (left = pending_.load(std::memory_order_acquire)) != 0;)
      pending_.wait(left, std::memory_order_acquire);
  }

  std::mutex mutex_;  // one region at a time
  std::vector<std::thread> workers_;
  std::atomic<std::uint32_t> epoch_{0};  // bumped once per region; workers wait for it to change
  std::atomic<int> pending_{0};          // workers that have not finished the current region
  Body body_ = nullptr;
  void* context_ = nullptr;
  int team_ = 1;
};

// body(t, nt) on `threads` threads of the pool (the caller is t = 0).
template <class F>
void run_on_pool(int threads, F&& body) {
  ThreadPool::instance().run(
      threads, [](void* f, Index t, Index nt) { (*static_cast<std::remove_reference_t<F>*>(f))(t, nt); },
      const_cast<void*>(static_cast<const void*>(&body)));
}

}  // namespace denso
