"""Shared helpers of the benchmark scripts: thread pinning, interleaved repeats and medians, the GEMM
ceiling, machine/version info, peak RSS and markdown tables.

Timings on a small shared machine are noisy, so every comparison here (a) fixes the thread count of
every library explicitly, (b) interleaves the contenders round by round, rotating who goes first, and
(c) reports medians over several repeats.
"""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

# Thread pools that nobody sets explicitly must not oversubscribe the cores: numpy's OpenBLAS stays on
# one thread (its GEMM ceiling is measured in a child process with its own setting; blas_threads sets it
# per timed cell) and libgomp gets the
# largest team we ask for. This only takes effect when set before numpy/torch are imported.
THREAD_ENV = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def pin_blas_env(max_threads: int) -> None:
    """Set the thread environment variables (before numpy/torch are imported) unless the user set them."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # numpy's OpenBLAS threads spin 2^28 cycles (~0.1 s) after each call by default: in an interleaved
    # run they took the cores from the next contender (denso's predict at 1024 rows, 2 threads, ran
    # 1.6x slower right after a numpy cell). 2^20 cycles (~0.3 ms) still covers back-to-back calls.
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")
    os.environ.setdefault("MKL_NUM_THREADS", str(max_threads))
    os.environ.setdefault("OMP_NUM_THREADS", str(max_threads))


def parse_ints(text: str) -> list[int]:
    """"1,8,32" → [1, 8, 32]."""
    return [int(v) for v in str(text).split(",") if v.strip()]


def load_torch(enabled: bool = True):
    """The torch module, or None when it is not installed or `enabled` is false."""
    if not enabled or os.environ.get("DENSO_BENCH_NO_TORCH"):
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


def import_denso():
    """denso, imported with stdout sent to stderr: an editable install announces its rebuild check on
    stdout, which would land in the middle of the markdown."""
    if "denso" not in sys.modules:
        with contextlib.redirect_stdout(sys.stderr):
            import denso  # noqa: F401
    return sys.modules["denso"]


def blas_threads(n: int):
    """A context manager that runs numpy's BLAS (and anything else calling it, such as scikit-learn) on
    `n` threads, through threadpoolctl; a no-op when threadpoolctl is not installed (then numpy keeps
    the thread count pin_blas_env gave it, see numpy_blas_controlled)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def numpy_blas_controlled() -> bool:
    """Whether blas_threads can set numpy's BLAS thread count (threadpoolctl is installed)."""
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return False
    return True


def set_threads(n: int, torch=None) -> None:
    """The same thread count for denso (its pool, which also runs the BLAS) and torch (intra-op pool)."""
    denso = import_denso()
    denso.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)


def median(values) -> float:
    return float(statistics.median(values))


def interleaved(cases: dict, repeats: int, warmup: int = 1) -> dict:
    """Call every case `repeats` times, round-robin, rotating which case goes first each round.

    A case is a callable; it may return its own timing dict (e.g. per-epoch times) or None, in which
    case the wall time of the call is recorded as {"wall": seconds}. Returns name → list of dicts.
    """
    names = list(cases)
    for name in names:
        for _ in range(warmup):
            cases[name]()
    out = {name: [] for name in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            t0 = time.perf_counter()
            result = cases[name]()
            wall = time.perf_counter() - t0
            out[name].append({"wall": wall, **(result or {})})
    return out


def field_median(samples: list, key: str) -> float:
    return median([s[key] for s in samples])


def per_call(fn, calls: int) -> float:
    """Seconds per call of `fn`, over `calls` back-to-back calls."""
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def calibrate(fn, target_seconds: float, max_calls: int = 1_000_000) -> int:
    """How many back-to-back calls of `fn` take about `target_seconds` (at least 1)."""
    fn()
    calls = 1
    while True:
        t = per_call(fn, calls) * calls
        if t >= target_seconds / 8 or calls >= max_calls:
            return max(1, min(max_calls, int(calls * target_seconds / max(t, 1e-9))))
        calls *= 8


# ---- GEMM ceiling ----------------------------------------------------------------------------------------
_NUMPY_GEMM = """
import json, sys, time
import numpy as np
n, repeats = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
a = rng.standard_normal((n, n), dtype=np.float32); b = rng.standard_normal((n, n), dtype=np.float32)
c = a @ b
times = []
for _ in range(repeats):
    t0 = time.perf_counter(); np.matmul(a, b, out=c); times.append(time.perf_counter() - t0)
print(json.dumps({"seconds": min(times)}))
"""


def numpy_gemm_gflops(threads: int, size: int, repeats: int) -> float:
    """numpy (OpenBLAS) float32 size³ GEMM, best-of-repeats GFLOP/s, in a child process pinned to `threads`."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    try:
        done = subprocess.run([sys.executable, "-c", _NUMPY_GEMM, str(size), str(repeats)], env=env,
                              capture_output=True, text=True, timeout=600, check=True)
        seconds = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
    except (subprocess.SubprocessError, OSError, ValueError, KeyError, IndexError):
        return float("nan")
    return 2.0 * size**3 / seconds / 1e9


def torch_gemm_gflops(torch, threads: int, size: int, repeats: int) -> float:
    """torch float32 size³ matmul, best-of-repeats GFLOP/s, with torch.set_num_threads(threads)."""
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen)
    b = torch.randn(size, size, generator=gen)
    c = torch.empty(size, size)
    torch.matmul(a, b, out=c)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.matmul(a, b, out=c)
        times.append(time.perf_counter() - t0)
    return 2.0 * size**3 / min(times) / 1e9


def gemm_ceilings(threads: list, torch, size: int = 2048, repeats: int = 5, denso=None) -> dict:
    """threads → {"numpy": GFLOP/s, "torch": GFLOP/s[, "denso": GFLOP/s], "ceiling": the largest}.

    `denso`, if given, is a callable (threads, size, repeats) → GFLOP/s of denso's own size³ float32
    product (bench_training measures it in its denso worker process); NaN means "not measured".
    A ceiling is what the machine can do, so each library's figure is its best repeat, not the median:
    noise only ever lowers a GEMM's speed, and a low ceiling would flatter the shares measured against it.
    """
    out = {}
    for n in threads:
        entry = {"numpy": numpy_gemm_gflops(n, size, repeats)}
        entry["torch"] = torch_gemm_gflops(torch, n, size, repeats) if torch is not None else float("nan")
        if denso is not None:
            entry["denso"] = denso(n, size, repeats)
        finite = [v for v in entry.values() if v == v]
        entry["ceiling"] = max(finite) if finite else float("nan")
        out[n] = entry
    return out


def gemm_table(ceilings: dict, size: int) -> str:
    """One row per thread count; a denso column when gemm_ceilings measured denso's product too."""
    with_denso = any("denso" in c for c in ceilings.values())
    headers = ["threads", f"numpy {size}³ GFLOP/s", f"torch {size}³ GFLOP/s"]
    headers += [f"denso {size}³ GFLOP/s"] if with_denso else []
    rows = []
    for n, c in ceilings.items():
        rows.append([str(n), fmt(c["numpy"]), fmt(c["torch"])] + ([fmt(c.get("denso"))] if with_denso else [])
                    + [fmt(c["ceiling"])])
    return markdown_table(headers + ["ceiling GFLOP/s"], rows)


# ---- memory -----------------------------------------------------------------------------------------------
def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB.

    VmHWM, not getrusage's ru_maxrss: ru_maxrss survives execve, so a child started from a large
    parent would report the parent's peak.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


# ---- machine and versions -----------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_simd() -> str:
    """The widest x86 SIMD level the CPU reports in /proc/cpuinfo: "AVX-512" (avx512f), "AVX2" or "SSE"."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
    except OSError:
        pass
    return "n/a"


def load_average() -> str:
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "n/a"


def machine_info(torch=None) -> dict:
    import numpy as np
    denso = import_denso()
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cpu_simd": cpu_simd(),
        "cores": os.cpu_count(),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "denso": getattr(denso, "__version__", "?"),
        "denso_simd": denso._core.simd_instruction_sets().split(",")[0],
        "denso_blas": denso._core.blas_info(),
        "torch": torch.__version__ if torch is not None else "not installed",
        "load": load_average(),
    }
    return info


def header(title: str, info: dict) -> str:
    return (f"## {title}\n\n"
            f"{info['date']} · {info['cpu']} ({info['cpu_simd']}, {info['cores']} cores) · {info['os']} · Python {info['python']} · "
            f"numpy {info['numpy']} · torch {info['torch']} · denso {info['denso']} "
            f"({info['denso_simd']}, BLAS {info['denso_blas']}) · "
            f"load average at start {info['load']}\n")


# ---- formatting ----------------------------------------------------------------------------------------------
def fmt(value, digits: int = 3) -> str:
    """A number with about `digits` significant figures; n/a for NaN/None."""
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    magnitude = abs(value)
    if magnitude >= 10 ** digits:
        return f"{value:,.0f}"
    if magnitude == 0:
        return "0"
    decimals = max(0, digits - 1 - int(f"{magnitude:e}".split("e")[1]))
    return f"{value:.{decimals}f}"


def markdown_table(headers: list, rows: list) -> str:
    """A GitHub markdown table; numeric-looking columns are right-aligned."""
    def numeric(col):
        cells = [r[col] for r in rows if r[col] != ""]
        return cells and all(c.replace(",", "").replace(".", "").replace("-", "").replace("×", "")
                             .replace("%", "").strip().isdigit() or c == "n/a" for c in cells)
    align = ["---:" if numeric(i) else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def parse_markdown_table(text: str, first_header: str) -> tuple:
    """(headers, rows) of the first table in `text` whose first header cell is `first_header` (used by the
    tests, and by bench_training to read denso-bench's output)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells and cells[0] == first_header:
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append([c.strip() for c in row.strip().strip("|").split("|")])
            return cells, rows
    raise ValueError(f"no table with first column {first_header!r}")
