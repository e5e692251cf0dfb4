#!/usr/bin/env python
"""Training on a busy machine: denso's default thread count against 1 thread, with and without a
competing CPU-bound process.

Each cell is `model.fit` of one epoch (784-256-128-10, Adam, random data) in a fresh worker process,
so every run starts with the thread count it is given. Rounds interleave the cells; the table
reports medians. The busy neighbour is `python -c "while True: pass"`, started for the loaded cells
only. The criterion of the threading model: under load, the default thread count is never slower
than 1.3x the 1-thread time; quiet, the default loses nothing against 1 thread.

    python benchmarks/contention.py                  # batches 1, 32, 512; 5 rounds (~2 minutes)
    python benchmarks/contention.py --quick          # a smoke test
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing as T  # noqa: E402

DIMS = (784, 256, 128, 10)
LIMIT = 1.3  # default threads under load / 1 thread under load


def worker(threads: int, batch: int, samples: int, epochs: int) -> dict:
    """Seconds per epoch (median over `epochs` after a warm-up) at this thread count (0: default)."""
    import numpy as np

    import denso
    if threads:
        denso.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((samples, DIMS[0]), dtype=np.float32)
    y = rng.integers(0, DIMS[-1], samples)
    model = denso.Sequential([denso.Dense(w, activation="relu") for w in DIMS[1:-1]] + [denso.Dense(DIMS[-1])],
                             input_dim=DIMS[0], seed=0)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=batch, verbose=0)  # warm-up: plan, pool, caches
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.fit(x, y, epochs=1, batch_size=batch, verbose=0)
        times.append(time.perf_counter() - t0)
    return {"seconds": T.median(times), "threads": denso.get_num_threads()}


def run_worker(threads: int, batch: int, samples: int, epochs: int) -> dict:
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", str(threads), str(batch),
                          str(samples), str(epochs)], capture_output=True, text=True, check=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


class BusyNeighbour:
    """A CPU-bound process for the duration of a `with` block."""

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.3)  # let it take its core
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def samples_for(batch: int, quick: bool) -> int:
    """Enough samples for an epoch of ~0.1-0.3 s at 1 thread."""
    if quick:
        return max(64, batch * 2)
    return {1: 1500}.get(batch, max(8192, batch * 16))


def main(argv=None) -> list:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", default="1,32,512")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=3, help="timed epochs per worker (median)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--worker", nargs=4, type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return []
    if args.quick:
        args.rounds, args.epochs = 1, 1
    batches = T.parse_ints(args.batches)
    info = T.machine_info()
    print(T.header("denso on a busy machine: default threads vs 1 thread", info))
    cells = [(b, load, threads) for b in batches for load in (False, True) for threads in (1, 0)]
    samples = {cell: [] for cell in cells}
    default_threads = None
    for r in range(args.rounds):
        order = cells[r % len(cells):] + cells[:r % len(cells)]
        for b, load, threads in order:
            n = samples_for(b, args.quick)
            if load:
                with BusyNeighbour():
                    res = run_worker(threads, b, n, args.epochs)
            else:
                res = run_worker(threads, b, n, args.epochs)
            samples[(b, load, threads)].append(res["seconds"])
            if threads == 0:
                default_threads = res["threads"]
    rows, results = [], []
    for b in batches:
        quiet1, quiet_d = T.median(samples[(b, False, 1)]), T.median(samples[(b, False, 0)])
        busy1, busy_d = T.median(samples[(b, True, 1)]), T.median(samples[(b, True, 0)])
        ratio = busy_d / busy1
        results.append({"batch": b, "quiet_1": quiet1, "quiet_default": quiet_d, "busy_1": busy1,
                        "busy_default": busy_d, "busy_ratio": ratio})
        rows.append([str(b), T.fmt(quiet1 * 1e3), T.fmt(quiet_d * 1e3), f"{quiet1 / quiet_d:.2f}×",
                     T.fmt(busy1 * 1e3), T.fmt(busy_d * 1e3), f"{ratio:.2f}×", "yes" if ratio <= LIMIT else "**no**"])
    print(f"Default thread count: {default_threads}. One epoch of `fit` (784-256-128-10, Adam), ms, medians of "
          f"{args.rounds} interleaved rounds × {args.epochs} epochs; busy = one `while True: pass` process.\n")
    print(T.markdown_table(["batch", "quiet 1 thread ms", "quiet default ms", "quiet speedup",
                            "busy 1 thread ms", "busy default ms", "busy default / 1 thread", f"≤ {LIMIT}×"], rows))
    print(f"\nLoad average at end: {T.load_average()}")
    return results


if __name__ == "__main__":
    main()
