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
#include <system_error>
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

// How long an idle thread spins (yielding its core now and then) before it sleeps. A training
// step's regions follow one another within a few µs; a sleeping thread takes 5-100 µs to wake on a
// virtual machine, so short gaps (a batch's gather, Python between calls) are bridged by spinning.
constexpr std::int64_t kSpinMicros = 200;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__SSE2__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Spin on `done()` for at most kSpinMicros; true if it became true while spinning. After the first
// µs the spinner also yields its core now and then: when the thread it waits for was woken onto the
// same core (the scheduler does that), spinning alone would keep that thread from running at all.
template <class Done>
bool spin_until(Done&& done) {
  const auto start = std::chrono::steady_clock::now();
  const auto polite = start + std::chrono::microseconds(1), deadline = start + std::chrono::microseconds(kSpinMicros);
  for (int i = 0;; ++i) {
    if (done()) return true;
    cpu_relax();
    if ((i & 63) == 63) {
      const auto now = std::chrono::steady_clock::now();
      if (now > deadline) return done();
      if (now > polite) std::this_thread::yield();
    }
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

// The most threads a team can have (the caller and its workers).
constexpr int kMaxTeam = 1024;

// Default thread count: OMP_NUM_THREADS / DENSO_NUM_THREADS when set (first value of a list),
// otherwise every CPU the process may use.
inline int default_thread_count() {
  for (const char* name : {"DENSO_NUM_THREADS", "OMP_NUM_THREADS"}) {
    if (const char* v = std::getenv(name)) {
      const long n = std::strtol(v, nullptr, 10);
      if (n >= 1) return int(std::min<long>(n, kMaxTeam));
    }
  }
  return available_cpus();
}

// A region is split into chunks that the caller and the workers claim one at a time. Member s of a
// team of T (the caller is 0, worker i is i) owns the contiguous share [chunks·s/T, chunks·(s+1)/T):
// it claims its own chunks first, in order, then helps with the others' shares. So each thread
// touches the same part of a buffer in every region of the same shape, and that part stays in its
// core's cache (a memory-bound pass whose halves swapped cores between calls ran 2x slower than with
// fixed halves, and slower than one thread). The caller never waits for a worker that has not
// started: on a busy machine a worker that the scheduler keeps off its core simply claims nothing,
// and the others run its share. The caller waits only for chunks already claimed, which are short.
class ThreadPool {
 public:
  using Body = void (*)(void* context, Index chunk, Index chunks);

  static ThreadPool& instance() {
    static ThreadPool* pool = new ThreadPool();  // never destroyed: workers may outlive static teardown
    return *pool;
  }

  // body(context, c, chunks) for every c in [0, chunks), on up to `threads` threads (the caller is
  // one); returns when all are done. Which thread runs a chunk varies, so a chunk's result must not
  // depend on it. A region started from inside a region runs inline; regions from different caller
  // threads take turns.
  void run(int threads, Index chunks, Body body, void* context) {
    FlushDenormals denormals;
    if (threads <= 1 || chunks <= 1 || in_region()) {
      for (Index c = 0; c < chunks; ++c) body(context, c, chunks);
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    ensure_workers(threads - 1);
    regions_.fetch_add(1, std::memory_order_relaxed);
    const std::uint32_t epoch = epoch_.load(std::memory_order_relaxed) + 1;
    body_.store(body, std::memory_order_relaxed);
    context_.store(context, std::memory_order_relaxed);
    chunks_.store(chunks, std::memory_order_relaxed);
    const int team = std::min({threads, int(workers_.size()) + 1, kMaxTeam});
    team_.store(team, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    for (int member = 0; member < team; ++member)
      cursors_[member].ticket.store(std::uint64_t(epoch) << 32 | std::uint64_t(share_begin(member, team, chunks)),
                                    std::memory_order_relaxed);
    epoch_.store(epoch, std::memory_order_release);
    epoch_.notify_all();
    {
      RegionFlag flag;
      run_chunks(0, team, epoch, body, context, chunks);
    }
    auto finished = [&] { return done_.load(std::memory_order_acquire) == chunks; };
    if (!spin_until(finished))
      for (Index d; (d = done_.load(std::memory_order_acquire)) != chunks;) done_.wait(d, std::memory_order_acquire);
  }

  // Start workers until there are `count`; returns how many there are (fewer when the system
  // refuses to create more threads: a process limit, memory).
  int start_workers(int count) {
    std::lock_guard<std::mutex> lock(mutex_);
    ensure_workers(count);
    return int(workers_.size());
  }

  // Regions handed to the team so far (not those run inline): tests check that code meant to run
  // threaded does.
  std::uint64_t regions() const { return regions_.load(std::memory_order_relaxed); }

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
  }

  struct RegionFlag {
    RegionFlag() { in_region() = true; }
    ~RegionFlag() { in_region() = false; }
  };
  static bool& in_region() {
    thread_local bool flag = false;
    return flag;
  }

  // A refused thread is not an error here: the region runs on the team there is (see run's team_).
  void ensure_workers(int needed) {
    while (int(workers_.size()) < needed) {
      const int index = int(workers_.size()) + 1;
      const std::uint32_t start = epoch_.load(std::memory_order_relaxed);  // before the coming region's bump
      try {
        std::thread worker([this, index, start] { work(index, start); });
        worker.detach();
        workers_.push_back(std::move(worker));
      } catch (const std::system_error&) {
        return;
      }
    }
  }

  static Index share_begin(int member, int team, Index chunks) { return chunks * member / team; }

  // Claim and run chunks of region `epoch` as team member `self`: its own share first, then what is
  // left of the others'. A cursor holds (epoch, next chunk of its share): a claim succeeds only while
  // that region is still the current one, so a late worker can never run a chunk of a region its
  // caller has left.
  void run_chunks(int self, int team, std::uint32_t epoch, Body body, void* context, Index chunks) {
    for (int k = 0; k < team; ++k) {
      const int member = (self + k) % team;
      const Index end = share_begin(member + 1, team, chunks);
      std::atomic<std::uint64_t>& cursor = cursors_[member].ticket;
      for (;;) {
        std::uint64_t ticket = cursor.load(std::memory_order_acquire);
        Index chunk;
        do {
          if ((ticket >> 32) != epoch) return;
          chunk = Index(ticket & 0xffffffffu);
          if (chunk >= end) break;
        } while (!cursor.compare_exchange_weak(ticket, ticket + 1, std::memory_order_acq_rel));
        if (chunk >= end) break;
        body(context, chunk, chunks);
        if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) done_.notify_one();
      }
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
      // Fields of region `now` (or of a later one, if this worker woke late: then every claim fails).
      const int team = team_.load(std::memory_order_relaxed);
      if (index < team)
        run_chunks(index, team, now, body_.load(std::memory_order_relaxed), context_.load(std::memory_order_relaxed),
                   chunks_.load(std::memory_order_relaxed));
    }
  }

  // Each hot atomic on a cache line of its own, away from anything else the threads write: idle
  // workers spin on epoch_, every claim writes a cursor, every finished chunk done_.
  struct alignas(64) Cursor {
    std::atomic<std::uint64_t> ticket{0};  // (epoch << 32) | next unclaimed chunk of one member's share
  };
  std::mutex mutex_;  // one region at a time
  std::vector<std::thread> workers_;
  std::unique_ptr<Cursor[]> cursors_{new Cursor[kMaxTeam]};
  alignas(64) std::atomic<std::uint32_t> epoch_{0};   // bumped once per region; idle workers wait for it
  alignas(64) std::atomic<Index> done_{0};            // chunks finished in the current region
  // The current region (atomics: a worker waking late may read them while the next region is set up;
  // its claims then fail).
  alignas(64) std::atomic<Body> body_{nullptr};
  std::atomic<void*> context_{nullptr};
  std::atomic<Index> chunks_{0};
  std::atomic<int> team_{1};
  std::atomic<std::uint64_t> regions_{0};
  char pad_[64];  // nothing else shares the last line
};

// body(c, chunks) for every chunk c, on up to `threads` threads of the pool (the caller is one).
template <class F>
void run_on_pool(int threads, Index chunks, F&& body) {
  ThreadPool::instance().run(
      threads, chunks,
      [](void* f, Index c, Index nc) { (*static_cast<std::remove_reference_t<F>*>(f))(c, nc); },
      const_cast<void*>(static_cast<const void*>(&body)));
}

}  // namespace denso
