// denso_bench: the fused training step (Plan<float>::train), inference (Plan<float>::predict), the
// kernels a step is made of and every optimizer update, timed natively (no Python), against Eigen's own
// float32 GEMM ceiling. Prints markdown tables; `denso_bench --help` lists the options.
//
// A training step costs 6·params·batch FLOPs (forward 2, backward 4). Kernel figures are medians over
// --repeats runs of at least --min-time seconds of back-to-back calls after a warm-up (caches warm);
// training figures are medians over --repeats epochs that restart from the same initial state.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>
#include <unistd.h>
#include "denso/blas_kernel.hpp"
#include "denso/plan.hpp"
#include "denso/rng.hpp"
#include "denso/threads.hpp"
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace {

using denso::Index;
using Mat = denso::Matrix<float>;
using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<long> threads{1, 2};
  std::vector<long> batches{1, 8, 32, 128, 512, 2048};
  std::vector<long> layers{784, 256, 128, 10};
  std::vector<long> infer_batches{1, 1024};
  int repeats = 7;
  double min_time = 0.05;  // seconds of back-to-back calls per timed repeat
  Index samples = 8192;    // samples per timed training epoch (whole batches, at least one) ...
  Index max_steps = 2048;  // ... and at most this many steps
  bool ftz = false;        // set the flush-to-zero / denormals-are-zero bits on every thread
  Index gemm = 2048;       // n of the n³ GEMM ceiling
  bool kernels = true;
  bool floor_only = false;  // only the batch-1 floor section (bench_training.py runs this)
};

const char* kUsage =
    "usage: denso_bench [--threads 1,2] [--batch 1,8,32,128,512,2048] [--repeats 7] [--min-time 0.05]\n"
    "                   [--layers 784,256,128,10] [--samples 8192] [--max-steps 2048] [--gemm 2048]\n"
    "                   [--infer-batch 1,1024]\n"
    "                   [--ftz] [--no-kernels] [--floor-only] [--quick]\n"
    "  --ftz  flush subnormal floats to zero (MXCSR FTZ+DAZ) on every thread, to see what they cost\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "denso_bench: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

std::vector<long> parse_list(const std::string& text, const char* flag) {
  std::vector<long> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    char* end = nullptr;
    const std::string item = text.substr(pos, comma - pos);
    const long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < 1) usage_error(std::string(flag) + " expects positive integers, got '" + text + "'");
    out.push_back(v);
    pos = comma + 1;
  }
  return out;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--threads") o.threads = parse_list(value(), "--threads");
    else if (a == "--batch") o.batches = parse_list(value(), "--batch");
    else if (a == "--layers") o.layers = parse_list(value(), "--layers");
    else if (a == "--infer-batch") o.infer_batches = parse_list(value(), "--infer-batch");
    else if (a == "--repeats") o.repeats = int(parse_list(value(), "--repeats").at(0));
    else if (a == "--samples") o.samples = parse_list(value(), "--samples").at(0);
    else if (a == "--gemm") o.gemm = parse_list(value(), "--gemm").at(0);
    else if (a == "--max-steps") o.max_steps = parse_list(value(), "--max-steps").at(0);
    else if (a == "--min-time") o.min_time = std::atof(value().c_str());
    else if (a == "--ftz") o.ftz = true;
    else if (a == "--no-kernels") o.kernels = false;
    else if (a == "--floor-only") o.floor_only = true;
    else if (a == "--quick") { o.batches = {1, 32}; o.repeats = 3; o.min_time = 0.002; o.samples = 256; o.max_steps = 64; o.gemm = 256; o.infer_batches = {1, 64}; }
    else if (a == "--help" || a == "-h") { std::printf("%s", kUsage); std::exit(0); }
    else usage_error("unknown option '" + a + "'");
  }
  if (o.layers.size() < 2) usage_error("--layers needs at least an input and an output width");
  if (!(o.min_time > 0)) usage_error("--min-time must be positive");
  return o;
}

// MXCSR flush-to-zero + denormals-are-zero on the calling thread (--ftz), as the Python bindings do;
// denso's pool threads always flush.
void flush_subnormals(int /*threads*/) {
#if defined(__SSE__)
  _mm_setcsr(_mm_getcsr() | 0x8040);
#endif
}

void use_threads(const Options& o, long threads) {
  denso::set_num_threads(int(threads));
  if (o.ftz) flush_subnormals(int(threads));
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Median seconds per call of fn: a warm-up call, a calibration of the calls per repeat, then
// `repeats` runs of at least min_time seconds each.
template <class F>
double time_per_call(F&& fn, const Options& o) {
  fn();
  long calls = 1;
  double t = 0;
  for (;;) {
    const auto t0 = Clock::now();
    for (long i = 0; i < calls; ++i) fn();
    t = seconds_since(t0);
    if (t >= o.min_time / 8 || calls >= (1L << 26)) break;
    calls *= 8;
  }
  calls = std::max(1L, static_cast<long>(calls * o.min_time / std::max(t, 1e-9)));
  std::vector<double> per_call;
  for (int r = 0; r < o.repeats; ++r) {
    const auto t0 = Clock::now();
    for (long i = 0; i < calls; ++i) fn();
    per_call.push_back(seconds_since(t0) / calls);
  }
  return median(per_call);
}

volatile double g_sink = 0;  // keeps results of value-returning kernels alive

// ---- formatting ---------------------------------------------------------------------------------------
std::string fmt(double v) {  // about 3 significant figures, thousands separated above 1000
  char buf[64];
  if (!std::isfinite(v)) return "n/a";
  if (std::fabs(v) >= 1000) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    std::string s = buf, out;
    const int digits = int(s.size()) - (s[0] == '-');
    for (std::size_t i = 0; i < s.size(); ++i) {
      out += s[i];
      const int left = int(s.size() - i - 1);
      if (left > 0 && left % 3 == 0 && !(i == 0 && s[0] == '-') && digits > 3) out += ',';
    }
    return out;
  }
  const int decimals = v == 0 ? 0 : std::max(0, 2 - int(std::floor(std::log10(std::fabs(v)))));
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

void print_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows) {
  std::string line = "|", rule = "|";
  for (std::size_t i = 0; i < headers.size(); ++i) {
    line += " " + headers[i] + " |";
    rule += i == 0 ? "---|" : "---:|";
  }
  std::printf("%s\n%s\n", line.c_str(), rule.c_str());
  for (const auto& row : rows) {
    std::string r = "|";
    for (const auto& c : row) r += " " + c + " |";
    std::printf("%s\n", r.c_str());
  }
  std::printf("\n");
}

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  double a = 0, b = 0, c = 0;
  if (!(f >> a >> b >> c)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f", a, b, c);
  return buf;
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

// ---- the network ---------------------------------------------------------------------------------------
struct Net {
  std::vector<denso::DenseSpec> specs;  // ReLU hidden layers, identity output (fused into the loss)
  Index n_params = 0;
  // Cache-line aligned, as the Python package allocates them (denso/_memory.py).
  using Buffer = std::vector<float, Eigen::aligned_allocator<float>>;
  Buffer params, grads;
  std::vector<Buffer> slots;  // exp_avg, exp_avg_sq, max_exp_avg_sq

  explicit Net(const std::vector<long>& widths) {
    for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
      denso::DenseSpec s;
      s.in = widths[l];
      s.out = widths[l + 1];
      s.activation = l + 2 < widths.size() ? denso::Activation::relu : denso::Activation::identity;
      s.weight_offset = n_params;
      s.bias_offset = n_params + s.in * s.out;
      n_params += s.in * s.out + s.out;
      specs.push_back(s);
    }
    params.assign(n_params, 0.0f);
    grads.assign(n_params, 0.0f);
    slots.assign(3, Buffer(n_params, 0.0f));
    std::mt19937 gen(0);
    for (const auto& s : specs) {  // Glorot uniform weights, zero biases: denso.Dense's defaults
      const float limit = std::sqrt(6.0f / float(s.in + s.out));
      std::uniform_real_distribution<float> u(-limit, limit);
      for (Index i = 0; i < s.in * s.out; ++i) params[s.weight_offset + i] = u(gen);
    }
  }
  std::vector<float*> slot_ptrs(int count) {
    std::vector<float*> out;
    for (int i = 0; i < count; ++i) out.push_back(slots[i].data());
    return out;
  }
};

struct Data {
  Mat x;
  std::vector<std::int64_t> labels;
  Data(Index n, Index in, Index classes) : x(n, in), labels(n) {
    std::mt19937 gen(1);
    std::normal_distribution<float> normal;
    for (Index i = 0; i < x.size(); ++i) x.data()[i] = normal(gen);
    std::uniform_int_distribution<std::int64_t> label(0, classes - 1);
    for (auto& y : labels) y = label(gen);
  }
};

denso::OptimizerConfig adam_config() {
  denso::OptimizerConfig c;
  c.kind = denso::OptimizerKind::adam;
  c.lr = 1e-3;
  return c;
}

// ---- measurements -------------------------------------------------------------------------------------------
// GFLOP/s of C = A·B, float32 n×n, row-major: the best of --repeats calls (after a warm-up), since a
// ceiling is what the machine can do and noise only ever slows a GEMM down.
double gemm_ceiling(Index n, const Options& o) {
  Mat a = Mat::Random(n, n), b = Mat::Random(n, n), c(n, n);
  denso::matmul<float>(a, b, c, false);
  double s = 1e300;
  for (int r = 0; r < std::max(o.repeats, 5); ++r) {
    const auto t0 = Clock::now();
    denso::matmul<float>(a, b, c, false);
    s = std::min(s, seconds_since(t0));
  }
  g_sink = g_sink + c(0, 0);
  return 2.0 * double(n) * n * n / s / 1e9;
}

Index train_batches(const Options& o, Index batch) {
  return std::clamp<Index>(o.samples / batch, 1, o.max_steps);
}

template <class V>
long count_subnormals(const V& v) {
  long n = 0;
  for (float x : v) n += std::fpclassify(x) == FP_SUBNORMAL;
  return n;
}

struct TrainResult {
  double seconds_per_step;
  long subnormals;  // in parameters and optimizer state after the last timed epoch
};

// Plan::train over one epoch of synthetic data (train_batches steps), each repeat from the same
// initial parameters and optimizer state, so the timed steps are the same steps every time.
TrainResult train_step(const Options& o, const Data& data, Index batch) {
  Net net(o.layers);
  const Net initial = net;
  const Index batches = train_batches(o, batch), n = batches * batch;
  std::vector<std::int64_t> order(n);
  denso::shuffled_indices(7, 0, n, order.data());
  const auto cfg = adam_config();
  denso::Plan<float> plan(net.specs, denso::LossKind::softmax_xent_labels, cfg, batch, 42, net.params.data(),
                          net.grads.data(), net.slot_ptrs(denso::optimizer_slot_count(cfg)));
  std::vector<double> lrs(batches, cfg.lr);
  std::vector<double> per_step;
  for (int r = 0; r <= o.repeats; ++r) {  // r = 0 is the warm-up
    // Same buffers (the plan holds their pointers): copy the values only.
    std::copy(initial.params.begin(), initial.params.end(), net.params.begin());
    for (std::size_t i = 0; i < net.slots.size(); ++i)
      std::copy(initial.slots[i].begin(), initial.slots[i].end(), net.slots[i].begin());
    long step = 0;
    const auto t0 = Clock::now();
    const denso::SampleSet<float> samples{data.x.data(), nullptr, data.labels.data(), nullptr, n};
    const auto t = plan.train(samples, order.data(), batch, 0, batches, lrs.data(), &step);
    const double s = seconds_since(t0);
    g_sink = g_sink + t.loss;
    if (r > 0) per_step.push_back(s / batches);
  }
  return {median(per_step), count_subnormals(net.params) + count_subnormals(net.slots[0]) +
                                count_subnormals(net.slots[1])};
}

// Seconds per Plan::predict call on `batch` rows (forward + softmax), the native floor of inference.
double predict_call(const Options& o, const Data& data, Index batch) {
  Net net(o.layers);
  const auto cfg = adam_config();
  denso::Plan<float> plan(net.specs, denso::LossKind::softmax_xent_labels, cfg, batch, 42, net.params.data(),
                          net.grads.data(), net.slot_ptrs(denso::optimizer_slot_count(cfg)));
  Mat out(batch, o.layers.back());
  return time_per_call([&] { plan.predict(data.x.data(), batch, batch, out.data()); g_sink = g_sink + out(0, 0); }, o);
}

struct KernelRow {
  std::string name;
  double seconds;
  bool part_of_step;  // counted in the sum (sub-rows that split another row are not)
  double gflop = 0;   // for GEMM kernels: work per call
};

// The buffers of one training step at `batch` rows: act[0] = gathered input, act[l+1] = layer l's output
// (non-negative, as after ReLU), grad[l+1] = the gradient reaching it; idx = the batch's sample rows.
struct StepBuffers {
  std::vector<Mat> act, grad;
  std::vector<std::int64_t> idx, labels;

  StepBuffers(const Net& net, const Data& data, Index batch)
      : act(net.specs.size() + 1), grad(net.specs.size() + 1), idx(batch), labels(batch) {
    act[0].resize(batch, net.specs[0].in);
    denso::shuffled_indices(3, 0, batch, idx.data());
    std::mt19937 gen(2);
    std::normal_distribution<float> normal;
    for (std::size_t l = 0; l < net.specs.size(); ++l) {
      act[l + 1].resize(batch, net.specs[l].out);
      grad[l + 1].resize(batch, net.specs[l].out);
      for (Index i = 0; i < act[l + 1].size(); ++i) act[l + 1].data()[i] = std::max(0.0f, normal(gen));
      for (Index i = 0; i < grad[l + 1].size(); ++i) grad[l + 1].data()[i] = 1e-3f * normal(gen);
    }
    for (Index r = 0; r < batch; ++r) act[0].row(r) = data.x.row(idx[r]);
  }
};

denso::CMapMat<float> weight(const Net& net, Index l) {
  const auto& s = net.specs[l];
  return denso::CMapMat<float>(net.params.data() + s.weight_offset, s.in, s.out);
}

denso::MapMat<float> grad_weight(Net& net, Index l) {
  const auto& s = net.specs[l];
  return denso::MapMat<float>(net.grads.data() + s.weight_offset, s.in, s.out);
}

std::string layer_label(const Net& net, Index l) {
  return "L" + std::to_string(l + 1) + " " + std::to_string(net.specs[l].in) + "→" +
         std::to_string(net.specs[l].out);
}

// GEMM work of one product over layer l's weights at `batch` rows.
double layer_gflop(const Net& net, Index l, Index batch) {
  return 2.0 * batch * net.specs[l].in * net.specs[l].out / 1e9;
}

// Rows for the forward kernels: add(name, fn, part_of_step, gflop) times and records one kernel.
template <class Add>
void add_forward_kernels(Net& net, StepBuffers& sb, Index batch, Add& add) {
  using namespace denso;
  for (Index l = 0; l < Index(net.specs.size()); ++l) {
    const auto& s = net.specs[l];
    const float* b = net.params.data() + s.bias_offset;
    add(layer_label(net, l) + " forward (X·W, bias, act)",
        [&] { dense_forward<float>(sb.act[l], weight(net, l), b, s.activation, 0.01f, sb.act[l + 1]); }, true,
        layer_gflop(net, l, batch));
    add("  ↳ of which bias + act", [&] { bias_activate<float>(sb.act[l + 1], b, s.activation, 0.01f); }, false);
  }
}

// Rows for the backward kernels, last layer first; the first layer computes no dX.
template <class Add>
void add_backward_kernels(Net& net, StepBuffers& sb, Index batch, Add& add) {
  using namespace denso;
  for (Index l = Index(net.specs.size()) - 1; l >= 0; --l) {
    const auto& s = net.specs[l];
    const double gf = layer_gflop(net, l, batch);
    add(layer_label(net, l) + " dW = Xᵀ·G, db", [&] {
      dense_backward_params<float>(sb.act[l], sb.grad[l + 1], grad_weight(net, l), net.grads.data() + s.bias_offset,
                                   false);
    }, true, gf);
    if (l == 0) break;
    add(layer_label(net, l) + " dX = G·Wᵀ",
        [&] { dense_backward_input<float>(sb.grad[l + 1], weight(net, l), sb.grad[l], false); }, true, gf);
    add("L" + std::to_string(l) + " relu′ (G ⊙ [A > 0])",
        [&] { activation_backward<float>(sb.act[l], sb.grad[l], net.specs[l - 1].activation, 0.01f); });
  }
}

// Each kernel of one training step at `batch` rows, in the order Plan::train runs them.
std::vector<KernelRow> step_kernels(const Options& o, const Data& data, Index batch) {
  using namespace denso;
  Net net(o.layers);
  StepBuffers sb(net, data, batch);
  std::vector<KernelRow> rows;
  auto add = [&](std::string name, auto&& fn, bool part = true, double gflop = 0) {
    rows.push_back({std::move(name), time_per_call(fn, o), part, gflop});
  };
  add("gather batch rows", [&] {
    for (Index r = 0; r < batch; ++r) {
      sb.act[0].row(r) = data.x.row(sb.idx[r]);
      sb.labels[r] = data.labels[sb.idx[r]];
    }
  });
  add_forward_kernels(net, sb, batch, add);
  const Index L = Index(net.specs.size());
  Mat z = sb.act[L];  // logits, kept apart so the loss does not see its own gradient
  add("softmax CE loss + dZ",
      [&] { g_sink = g_sink + softmax_xent_labels_loss<float>(z, sb.labels.data(), sb.grad[L].data()); });
  add_backward_kernels(net, sb, batch, add);
  const auto cfg = adam_config();
  auto slots = net.slot_ptrs(3);
  long step = 0;
  add("Adam update (" + fmt(double(net.n_params)) + " params)", [&] {
    optimizer_update<float>(cfg, ++step, net.n_params, net.params.data(), net.grads.data(), slots.data());
  });
  return rows;
}

// Where OpenBLAS overtakes Eigen: each engine alone (one thread) on the first layer's three products
// at a few small row counts, and the engine gemm() picks (detail::uses_blas).
std::vector<std::vector<std::string>> engine_crossover(const Options& o) {
  std::vector<std::vector<std::string>> rows;
#ifdef DENSO_HAVE_OPENBLAS
  const Index in = o.layers[0], out = o.layers.size() > 1 ? o.layers[1] : in;
  for (Index m : {1, 2, 3, 4, 8, 16, 32, 64}) {
    Mat x = Mat::Random(m, in), w = Mat::Random(in, out), g = Mat::Random(m, out), y(m, out), dw(in, out),
        dx(m, in);
    const double gf = 2.0 * m * in * out / 1e9;
    // (name, product) pairs; ta/tb as gemm() takes them
    struct Case { const char* name; bool ta, tb; Index rm, rn, rk; const float *a, *b; Index lda, ldb; float* c; Index ldc; };
    const Case cases[] = {
        {"X·W", false, false, m, out, in, x.data(), w.data(), in, out, y.data(), out},
        {"Xᵀ·G", true, false, in, out, m, x.data(), g.data(), in, out, dw.data(), out},
        {"G·Wᵀ", false, true, m, in, out, g.data(), w.data(), out, out, dx.data(), in}};
    for (const auto& c : cases) {
      const double eigen = time_per_call([&] {
        denso::detail::eigen_gemm<float>(c.ta, c.tb, c.rm, c.rn, c.rk, c.a, c.lda, c.b, c.ldb, c.c, c.ldc, false);
      }, o);
      const double blas = time_per_call([&] {
        denso::detail::blas_gemm(c.ta, c.tb, c.rm, c.rn, c.rk, c.a, c.lda, c.b, c.ldb, c.c, c.ldc, 0.0f);
      }, o);
      const bool blas_route = denso::detail::uses_blas(c.ta, c.tb, c.rm, c.rn, c.rk);
      // At 1-2 rows the plan computes Xᵀ·G inside the optimizer pass instead (fused small batches).
      const std::string route = (c.ta && m <= 2) ? "fused into the update" : blas_route ? "OpenBLAS" : "Eigen";
      rows.push_back({std::to_string(m), c.name, fmt(gf / eigen), fmt(gf / blas), route});
    }
  }
#else
  (void)o;
#endif
  return rows;
}

// One fused read-modify-write pass over θ, m and v (each read once and written once, split over the
// pool like the optimizer pass): the memory floor under any Adam step. The values converge to fixed
// points (m → 1, v → 0.5), so no subnormals appear however often it runs.
double rmw_pass_seconds(const Options& o) {
  Net net(o.layers);
  auto slots = net.slot_ptrs(3);
  float* params = net.params.data();
  float* ms = slots[0];
  float* vs = slots[1];
  return time_per_call([&] {
    denso::parallel_for(net.n_params, [&](Index begin, Index end) {
      float* __restrict p = params;
      float* __restrict m = ms;
      float* __restrict v = vs;
      for (Index i = begin; i < end; ++i) {
        m[i] = 0.5f * m[i] + 0.5f;
        v[i] = 0.5f * v[i] + 0.25f;
        p[i] = p[i] + 1e-7f * (m[i] - v[i]);
      }
    });
    g_sink = g_sink + params[0];
  }, o);
}

struct OptimizerCase {
  std::string name;
  denso::OptimizerConfig config;
  int bytes_per_param;  // memory traffic: every buffer read and every buffer written
};

std::vector<OptimizerCase> optimizer_cases() {
  using denso::OptimizerKind;
  std::vector<OptimizerCase> cases;
  denso::OptimizerConfig c;
  c.kind = OptimizerKind::sgd;
  c.lr = 0.01;
  cases.push_back({"SGD", c, 12});
  c.momentum = 0.9;
  c.nesterov = true;
  cases.push_back({"SGD momentum 0.9, Nesterov", c, 20});
  c = {};
  c.kind = OptimizerKind::rmsprop;
  cases.push_back({"RMSprop", c, 20});
  c = adam_config();
  cases.push_back({"Adam", c, 28});
  c.weight_decay = 0.01;
  c.decoupled_weight_decay = true;
  cases.push_back({"AdamW (weight decay 0.01)", c, 28});
  c = adam_config();
  c.amsgrad = true;
  cases.push_back({"Adam AMSGrad", c, 36});
  return cases;
}

double optimizer_seconds(const Options& o, const OptimizerCase& oc) {
  Net net(o.layers);
  for (Index i = 0; i < net.n_params; ++i) net.grads[i] = 1e-3f * float((i % 17) - 8);
  auto slots = net.slot_ptrs(3);
  long step = 0;
  return time_per_call([&] {
    denso::optimizer_update<float>(oc.config, ++step, net.n_params, net.params.data(), net.grads.data(), slots.data());
  }, o);
}

using Table = std::vector<std::vector<std::string>>;

// The step's real GEMM work per sample: forward and dW for every layer, dX for all but the first.
double gemm_flop_per_sample(const Options& o) {
  double flop = 0;
  for (std::size_t l = 0; l + 1 < o.layers.size(); ++l)
    flop += 2.0 * double(o.layers[l]) * double(o.layers[l + 1]) * (l == 0 ? 2 : 3);
  return flop;
}

// Synthetic data with enough rows for the longest training epoch and the largest inference batch.
Data make_data(const Options& o) {
  Index rows_needed = 1;
  for (long b : o.batches) rows_needed = std::max<Index>(rows_needed, train_batches(o, b) * b);
  for (long b : o.infer_batches) rows_needed = std::max<Index>(rows_needed, b);
  return Data(rows_needed, o.layers.front(), o.layers.back());
}

void print_header(const Options& o, const Net& proto, double flop_per_sample) {
  std::string widths;
  for (long w : o.layers) widths += (widths.empty() ? "" : "-") + std::to_string(w);
  std::printf("## denso_bench (native, no Python)\n\n%s · Eigen %d.%d.%d (%s) · BLAS %s · network %s "
              "(ReLU, softmax cross-entropy, Adam; %s params, %.2f GEMM MFLOP per training sample) · medians of %d "
              "repeats of ≥ %g s%s · load average at start %s\n\n",
              cpu_model().c_str(), EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION,
              Eigen::SimdInstructionSetsInUse(), denso::blas_info().c_str(), widths.c_str(),
              fmt(double(proto.n_params)).c_str(), flop_per_sample / 1e6, o.repeats, o.min_time,
              o.ftz ? " · FTZ/DAZ on (--ftz)" : "", load_average().c_str());
  std::fflush(stdout);
}

// Batch-1 floor: the fused step against one read-modify-write pass over θ, m, v (denormals flushed
// on every thread, as from Python).
void print_batch1_floor(const Options& o, const Data& data) {
  Table rows;
  for (long threads : o.threads) {
    Options f = o;
    f.ftz = true;
    use_threads(f, threads);
    const double step = train_step(f, data, 1).seconds_per_step, rmw = rmw_pass_seconds(f);
    double adam = 0;
    for (const auto& oc : optimizer_cases())
      if (oc.name == "Adam") adam = optimizer_seconds(f, oc);
    rows.push_back({std::to_string(threads), fmt(step * 1e6), fmt(rmw * 1e6), fmt(adam * 1e6),
                    fmt(step / rmw) + "×"});
  }
  std::printf("### Batch-1 floor (Adam step at batch 1 against one fused read-modify-write pass over θ, m, v)\n\n");
  print_table({"threads", "step µs", "RMW pass µs", "Adam pass µs", "step / RMW pass"}, rows);
  std::printf("The Adam pass reads θ, m, v and a materialised gradient and writes θ, m, v, with one square root "
              "and one division per value; the step computes the rank-1 gradient inside that pass instead.\n\n");
  std::fflush(stdout);
}

// GFLOP/s of the n³ GEMM at each thread count, printed and returned (the other tables compare to it).
std::vector<double> print_gemm_ceilings(const Options& o) {
  Table rows;
  std::vector<double> ceilings;
  for (long threads : o.threads) {
    use_threads(o, threads);
    const double ceiling = gemm_ceiling(o.gemm, o);
    ceilings.push_back(ceiling);
    rows.push_back({std::to_string(threads), fmt(2.0 * o.gemm * o.gemm * o.gemm / ceiling / 1e6), fmt(ceiling)});
    std::fprintf(stderr, "threads %ld: GEMM ceiling %.1f GFLOP/s\n", threads, ceiling);
  }
  std::printf("### GEMM ceiling (float32 %ld³ through denso::matmul, row-major, best of %d)\n\n", long(o.gemm),
              std::max(o.repeats, 5));
  print_table({"threads", "ms", "GFLOP/s"}, rows);
  return ceilings;
}

void print_training(const Options& o, const Data& data, double flop_per_sample, const std::vector<double>& ceilings) {
  Table rows;
  for (std::size_t t = 0; t < o.threads.size(); ++t) {
    use_threads(o, o.threads[t]);
    for (long batch : o.batches) {
      const TrainResult r = train_step(o, data, batch);
      const double s = r.seconds_per_step, gflops = flop_per_sample * batch / s / 1e9;
      rows.push_back({std::to_string(o.threads[t]), std::to_string(batch), std::to_string(train_batches(o, batch)),
                      fmt(s * 1e6), fmt(batch / s), fmt(gflops), fmt(100 * gflops / ceilings[t]) + "%",
                      std::to_string(r.subnormals)});
    }
  }
  std::printf("### Training step (Plan<float>::train: gather, forward, softmax CE, backward, Adam)\n\n");
  print_table({"threads", "batch", "steps", "µs/step", "samples/s", "GFLOP/s", "% of GEMM ceiling",
               "subnormals in θ, m, v after"}, rows);
  std::printf("Each repeat trains the same epoch (`steps` Adam steps) from the same initial state. Subnormal "
              "floats (|x| < 1.2e-38, e.g. the decaying Adam moments of weights whose gradient became 0) "
              "make every arithmetic op on them ~100x slower; --ftz flushes them to zero.\n\n");
  std::fflush(stdout);
}

void print_inference(const Options& o, const Data& data, const Net& proto) {
  Table rows;
  for (long threads : o.threads) {
    use_threads(o, threads);
    for (long batch : o.infer_batches) {
      const double s = predict_call(o, data, batch);
      rows.push_back({std::to_string(threads), std::to_string(batch), fmt(s * 1e6), fmt(batch / s),
                      fmt(2.0 * proto.n_params * batch / s / 1e9)});
    }
  }
  std::printf("### Inference (Plan<float>::predict: forward + softmax, no Python)\n\n");
  print_table({"threads", "batch", "µs/call", "samples/s", "GFLOP/s"}, rows);
  std::fflush(stdout);
}

// One row per kernel into `times` (µs and share of the measured step per batch) and, for the GEMM
// kernels, into `gemm` (GFLOP/s per batch).
void kernel_rows(const std::vector<std::vector<KernelRow>>& per_batch, const std::vector<double>& steps,
                 Table& times, Table& gemm) {
  for (std::size_t k = 0; k < per_batch[0].size(); ++k) {
    std::vector<std::string> row{per_batch[0][k].name}, grow{per_batch[0][k].name};
    for (std::size_t i = 0; i < per_batch.size(); ++i) {
      const auto& kr = per_batch[i][k];
      row.push_back(fmt(kr.seconds * 1e6) + " (" + fmt(100 * kr.seconds / steps[i]) + "%)");
      grow.push_back(fmt(kr.gflop / kr.seconds));
    }
    times.push_back(row);
    if (per_batch[0][k].gflop > 0) gemm.push_back(grow);
  }
}

// The three closing rows of a step profile: sum of the step's kernels, measured step, the difference.
void step_total_rows(const std::vector<std::vector<KernelRow>>& per_batch, const std::vector<double>& steps,
                     Table& times) {
  std::vector<std::string> sum{"**sum of kernels**"}, step{"**measured step**"}, other{"other (step − sum)"};
  for (std::size_t i = 0; i < per_batch.size(); ++i) {
    double total = 0;
    for (const auto& kr : per_batch[i]) total += kr.part_of_step ? kr.seconds : 0;
    sum.push_back(fmt(total * 1e6) + " (" + fmt(100 * total / steps[i]) + "%)");
    step.push_back(fmt(steps[i] * 1e6));
    other.push_back(fmt((steps[i] - total) * 1e6) + " (" + fmt(100 * (steps[i] - total) / steps[i]) + "%)");
  }
  times.push_back(sum);
  times.push_back(step);
  times.push_back(other);
}

// Step profile and GEMM kernel tables at one thread count.
void print_step_profile(const Options& o, const Data& data, long threads, double ceiling) {
  use_threads(o, threads);
  std::vector<std::vector<KernelRow>> per_batch;
  std::vector<double> steps;
  for (long batch : o.batches) {
    per_batch.push_back(step_kernels(o, data, batch));
    steps.push_back(train_step(o, data, batch).seconds_per_step);
  }
  std::vector<std::string> headers{"kernel"};
  for (long batch : o.batches) headers.push_back("batch " + std::to_string(batch));
  Table rows, gemm_rows;
  kernel_rows(per_batch, steps, rows, gemm_rows);
  step_total_rows(per_batch, steps, rows);
  std::printf("### Step profile, %ld thread(s): µs per kernel call (share of the measured step)\n\n", threads);
  print_table(headers, rows);
  std::printf("### Dense GEMM kernels, %ld thread(s): GFLOP/s (ceiling %s)\n\n", threads, fmt(ceiling).c_str());
  print_table(headers, gemm_rows);
  std::fflush(stdout);
}

Table optimizer_rows(const Options& o, const Net& proto) {
  Table rows;
  for (long threads : o.threads) {
    use_threads(o, threads);
    for (const auto& oc : optimizer_cases()) {
      const double s = optimizer_seconds(o, oc);
      rows.push_back({oc.name, std::to_string(threads), fmt(s * 1e6),
                      fmt(double(oc.bytes_per_param) * proto.n_params / s / 1e9)});
    }
  }
  return rows;
}

void print_engine_crossover(const Options& o) {
  use_threads(o, 1);
  const auto crossover = engine_crossover(o);
  if (crossover.empty()) return;
  std::printf("### GEMM engines at few rows (first layer's products, 1 thread, GFLOP/s)\n\n");
  print_table({"rows", "product", "Eigen", "OpenBLAS", "denso uses"}, crossover);
}

// OpenBLAS chose its kernels when it loaded, before main: run again with the kernel set denso prefers
// on this CPU (blas_kernel.hpp), unless OPENBLAS_CORETYPE is set already. execv returns only if it
// failed, and then the run goes on with OpenBLAS's own choice.
void reexec_with_preferred_kernel(char** argv) {
  const char* kernel = denso::preferred_openblas_coretype();
  if (!kernel || std::getenv("OPENBLAS_CORETYPE")) return;
  setenv("OPENBLAS_CORETYPE", kernel, 1);
  execv("/proc/self/exe", argv);
  unsetenv("OPENBLAS_CORETYPE");
}

}  // namespace

int main(int argc, char** argv) {
  reexec_with_preferred_kernel(argv);
  const Options o = parse_options(argc, argv);
  const Net proto(o.layers);
  const double flop_per_sample = gemm_flop_per_sample(o);
  const Data data = make_data(o);
  print_header(o, proto, flop_per_sample);
  print_batch1_floor(o, data);
  if (o.floor_only) return 0;

  const std::vector<double> ceilings = print_gemm_ceilings(o);
  print_training(o, data, flop_per_sample, ceilings);
  print_inference(o, data, proto);
  if (o.kernels)
    for (std::size_t t = 0; t < o.threads.size(); ++t) print_step_profile(o, data, o.threads[t], ceilings[t]);
  // The optimizer updates are timed here, ahead of the engine table, and listed last.
  const Table optimizers = optimizer_rows(o, proto);
  print_engine_crossover(o);
  std::printf("### Optimizer updates (%s float32 params, one flat buffer)\n\n", fmt(double(proto.n_params)).c_str());
  print_table({"optimizer", "threads", "µs/update", "GB/s (buffers read + written)"}, optimizers);
  std::printf("Load average at end: %s\n", load_average().c_str());
  return 0;
}
