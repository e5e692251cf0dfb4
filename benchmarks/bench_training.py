#!/usr/bin/env python
"""denso against PyTorch on the same dense network, data, batch sizes and thread counts.

Training throughput per batch size and thread count (denso through `model.fit`, PyTorch with the
default and the fused Adam), inference latency (batch 1) and throughput (batch 1024), the machine's
float32 GEMM ceiling measured in the same run, and peak memory. Prints markdown tables.

    python benchmarks/bench_training.py                        # the full run (about 5 minutes)
    python benchmarks/bench_training.py --threads 2 --batches 32,128 --repeats 3
    python benchmarks/bench_training.py --no-torch             # denso alone
    python benchmarks/bench_training.py --quick                # tiny sizes: checks that it runs

How it measures (see also _timing.py):
  * denso: `model.fit(x, y, epochs=2, batch_size=b, verbose=0)` over in-memory float32 data, with a
    LambdaCallback timing each epoch. "fit" is the cost of one `fit(epochs=1)` call (wall time minus
    the second epoch: validation, plan build, shuffle, batches); "epoch" is the second epoch alone
    (shuffle + batches), i.e. the steady per-step cost.
  * PyTorch: the same nn.Linear/ReLU stack, CrossEntropyLoss and Adam (lr 1e-3), default and
    fused=True, trained by the usual loop over tensors: a fresh randperm each epoch, then
    `xb = X[perm[i:i+b]]`, zero_grad, forward, loss, backward, step. One epoch per timing.
  * Every (batch, threads) cell runs the contenders round-robin (rotating who goes first), after one
    warm-up each, and reports medians over --repeats rounds. Speedups are PyTorch time / denso time
    with denso's full `fit` call cost, so they never flatter denso.
  * A training step costs 6 · parameters · batch FLOPs (forward 2, backward 4); GFLOP/s and the share
    of the GEMM ceiling (the larger of numpy's and torch's 2048³ float32 matmul, same thread count,
    same run) use the steady epoch time.
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
BATCHES = (1, 8, 32, 128, 512, 2048)
# Issue targets at 2 threads: denso speedup over torch's fused Adam per batch size.
TRAIN_TARGETS = {1: 10.0, 8: 5.0, 32: 2.5, 128: 1.8, 512: 1.4, 2048: 1.4}


def n_params(dims) -> int:
    """Weights and biases of a dense stack: Σ out · (in + 1)."""
    return sum((a + 1) * b for a, b in zip(dims[:-1], dims[1:]))


def train_gflop(dims, samples: int) -> float:
    return 6.0 * n_params(dims) * samples / 1e9


def make_data(n: int, dims, seed: int = 0):
    """n random float32 inputs and integer labels (the values do not affect the speed)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dims[0]), dtype=np.float32)
    y = rng.integers(0, dims[-1], n).astype(np.int64)
    return x, y


# ---- denso -------------------------------------------------------------------------------------------------
def denso_model(dims, seed: int = 0):
    import denso
    layers = [denso.Dense(w, activation="relu") for w in dims[1:-1]] + [denso.Dense(dims[-1])]
    model = denso.Sequential(layers, input_dim=dims[0], seed=seed)
    model.compile(denso.optim.Adam(lr=1e-3), "categorical_crossentropy", ["accuracy"])
    return model


class DensoTrainer:
    """`model.fit` over in-memory data, timed through the public callback API."""

    def __init__(self, dims, x, y, batch: int, seed: int = 0):
        self.model, self.x, self.y, self.batch = denso_model(dims, seed), x, y, batch

    def run(self, epochs: int = 2) -> dict:
        """{"fit": cost of a fit(epochs=1) call, "epoch": median epoch time after the first}."""
        import denso
        marks = []
        clock = time.perf_counter
        cb = denso.LambdaCallback(on_epoch_begin=lambda e, logs: marks.append(clock()),
                                  on_epoch_end=lambda e, logs: marks.append(clock()))
        t0 = clock()
        self.model.fit(self.x, self.y, epochs=epochs, batch_size=self.batch, verbose=0, callbacks=[cb])
        wall = clock() - t0
        epochs_s = [marks[2 * i + 1] - marks[2 * i] for i in range(len(marks) // 2)]
        later = epochs_s[1:] or epochs_s
        return {"fit": wall - sum(epochs_s[1:]), "epoch": T.median(later)}


# ---- PyTorch -----------------------------------------------------------------------------------------------
def torch_model(torch, dims, seed: int = 0):
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


class TorchTrainer:
    """The plain PyTorch loop over in-memory tensors (no DataLoader), Adam lr 1e-3."""

    def __init__(self, torch, dims, x, y, batch: int, fused: bool, seed: int = 0):
        self.torch, self.batch = torch, batch
        self.X, self.Y = torch.from_numpy(x), torch.from_numpy(y)
        self.model = torch_model(torch, dims, seed)
        kwargs = {"fused": True} if fused else {}
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3, **kwargs)
        self.loss = torch.nn.CrossEntropyLoss()

    def epoch(self) -> None:
        X, Y, model, opt, loss_fn, bs = self.X, self.Y, self.model, self.opt, self.loss, self.batch
        n = X.shape[0]
        perm = self.torch.randperm(n)
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            xb, yb = X[idx], Y[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()


# ---- denso in its own process ----------------------------------------------------------------------------------
class DensoProcess:
    """denso timed in a child process that never imports torch.

    torch ships its own OpenMP runtime and loads it globally; in the same process denso's parallel
    regions then run on it and a 2-thread batch-1 step slows down about 7x. Nobody trains with both
    libraries in one process, so each gets its own; the parent still interleaves the cells.
    """

    def __init__(self, args):
        cmd = [sys.executable, os.path.abspath(__file__), "--denso-worker", "--dims", ",".join(map(str, args.dims))]
        env = dict(os.environ, SKBUILD_EDITABLE_VERBOSE="0")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def call(self, **request) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the denso benchmark worker exited early")
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.proc.stdout.close()


def denso_worker(args) -> None:
    """Serve timing requests on stdin (one JSON object a line), answer on stdout."""
    import numpy as np
    trainers, predictors = {}, {}
    for line in sys.stdin:
        req = json.loads(line)
        T.set_threads(req["threads"], None)
        if req["op"] == "train":
            key = (req["batch"], req["n"])
            if key not in trainers:
                x, y = make_data(req["n"], args.dims)
                trainers[key] = DensoTrainer(args.dims, x, y, req["batch"])
            reply = trainers[key].run()
        else:
            if not predictors:
                predictors["x"], _ = make_data(req["max_batch"], args.dims, seed=1)
                predictors["model"] = denso_model(args.dims)
            xb = np.ascontiguousarray(predictors["x"][:req["batch"]])
            case = predictors.setdefault(("case", req["batch"], req["threads"]),
                                         _latency_case(lambda xb=xb: predictors["model"].predict(xb), req["seconds"]))
            reply = case()
        print(json.dumps(reply), flush=True)


# ---- training ------------------------------------------------------------------------------------------------
def steps_for(batch: int, samples: int, max_steps: int, min_steps: int) -> int:
    """Batches per timed epoch: about `samples` samples, within [min_steps, max_steps]."""
    return max(min_steps, min(max_steps, samples // batch))


def bench_training(args, torch, ceilings: dict, worker) -> list:
    """One row per (batch, threads) with medians; prints the table."""
    rows = []
    for batch in args.batches:
        steps = steps_for(batch, args.samples, args.max_steps, args.min_steps)
        n = steps * batch
        x, y = make_data(n, args.dims)
        for threads in args.threads:
            T.set_threads(threads, torch)
            cases = {"denso": lambda: worker.call(op="train", batch=batch, n=n, threads=threads)}
            if torch is not None:
                cases["torch_adam"] = TorchTrainer(torch, args.dims, x, y, batch, fused=False).epoch
                cases["torch_fused"] = TorchTrainer(torch, args.dims, x, y, batch, fused=True).epoch
            samples = T.interleaved(cases, args.repeats, warmup=1)
            row = {"batch": batch, "threads": threads, "steps": steps, "samples": n,
                   "denso_fit": T.field_median(samples["denso"], "fit"),
                   "denso_epoch": T.field_median(samples["denso"], "epoch")}
            for name in ("torch_adam", "torch_fused"):
                row[name] = T.field_median(samples[name], "wall") if name in samples else float("nan")
            gflop = train_gflop(args.dims, n)
            row["denso_gflops"] = gflop / row["denso_epoch"]
            row["torch_fused_gflops"] = gflop / row["torch_fused"]
            row["ceiling_share"] = row["denso_gflops"] / ceilings.get(threads, {}).get("ceiling", float("nan"))
            row["vs_fused"] = row["torch_fused"] / row["denso_fit"]
            row["vs_adam"] = row["torch_adam"] / row["denso_fit"]
            rows.append(row)
    print(training_table(rows, torch is not None) + "\n", flush=True)
    return rows


def training_table(rows: list, with_torch: bool) -> str:
    headers = ["batch", "threads", "denso samples/s", "denso µs/step (fit)", "denso µs/step (epoch)"]
    if with_torch:
        headers += ["torch Adam µs/step", "torch fused µs/step", "× vs fused", "× vs Adam"]
    headers += ["denso GFLOP/s"] + (["torch fused GFLOP/s"] if with_torch else []) + ["denso % of ceiling"]
    out = []
    for r in rows:
        us = 1e6 / r["steps"]
        cells = [str(r["batch"]), str(r["threads"]), T.fmt(r["samples"] / r["denso_fit"]),
                 T.fmt(r["denso_fit"] * us), T.fmt(r["denso_epoch"] * us)]
        if with_torch:
            cells += [T.fmt(r["torch_adam"] * us), T.fmt(r["torch_fused"] * us), T.fmt(r["vs_fused"]) + "×",
                      T.fmt(r["vs_adam"]) + "×"]
        cells += [T.fmt(r["denso_gflops"])] + ([T.fmt(r["torch_fused_gflops"])] if with_torch else [])
        cells += [T.fmt(100 * r["ceiling_share"]) + "%"]
        out.append(cells)
    return "### Training (model.fit vs the PyTorch loop, Adam)\n\n" + T.markdown_table(headers, out)


# ---- inference -----------------------------------------------------------------------------------------------
def bench_inference(args, torch, worker) -> list:
    """Latency at batch 1 and throughput at batch 1024: denso `predict`, torch forward + softmax."""
    import numpy as np
    rows = []
    x, _ = make_data(max(args.infer_batches), args.dims, seed=1)
    tmodel = torch_model(torch, args.dims).eval() if torch is not None else None
    for batch in args.infer_batches:
        xb = np.ascontiguousarray(x[:batch])
        for threads in args.threads:
            T.set_threads(threads, torch)
            cases = {"denso": lambda: worker.call(op="predict", batch=batch, max_batch=max(args.infer_batches),
                                                  threads=threads, seconds=args.infer_time)}
            if torch is not None:
                tx = torch.from_numpy(xb)
                cases["torch"] = _torch_latency_case(torch, lambda: torch.softmax(tmodel(tx), dim=1),
                                                     args.infer_time)
            samples = T.interleaved(cases, args.repeats, warmup=0)
            row = {"batch": batch, "threads": threads,
                   "denso": T.field_median(samples["denso"], "per_call"),
                   "torch": T.field_median(samples["torch"], "per_call") if torch is not None else float("nan")}
            rows.append(row)
    print(inference_table(rows, args.dims, torch is not None) + "\n", flush=True)
    return rows


def _latency_case(fn, seconds: float):
    calls = []

    def case():
        if not calls:
            calls.append(T.calibrate(fn, seconds))
        return {"per_call": T.per_call(fn, calls[0])}
    return case


def _torch_latency_case(torch, fn, seconds: float):
    inner = _latency_case(fn, seconds)

    def case():
        with torch.inference_mode():
            return inner()
    return case


def inference_table(rows: list, dims, with_torch: bool) -> str:
    headers = ["batch", "threads", "denso µs/call", "denso samples/s"]
    if with_torch:
        headers += ["torch µs/call", "torch samples/s", "× vs torch"]
    headers += ["denso GFLOP/s"]
    out = []
    for r in rows:
        cells = [str(r["batch"]), str(r["threads"]), T.fmt(r["denso"] * 1e6), T.fmt(r["batch"] / r["denso"])]
        if with_torch:
            cells += [T.fmt(r["torch"] * 1e6), T.fmt(r["batch"] / r["torch"]), T.fmt(r["torch"] / r["denso"]) + "×"]
        cells += [T.fmt(2.0 * n_params(dims) * r["batch"] / r["denso"] / 1e9)]
        out.append(cells)
    return ("### Inference (denso `predict` → probabilities; torch forward + softmax under inference_mode)\n\n"
            + T.markdown_table(headers, out))


# ---- memory -------------------------------------------------------------------------------------------------
def rss_child(library: str, args) -> dict:
    """In a child process: import, make data, train one epoch at batch 128 and predict; report RSS."""
    import numpy as np  # noqa: F401
    if library == "torch":
        import torch
        torch.set_num_threads(args.threads[-1])
    else:
        T.set_threads(args.threads[-1], None)
    after_import = T.current_rss_mb()
    x, y = make_data(args.rss_samples, args.dims)
    after_data = T.current_rss_mb()
    if library == "torch":
        trainer = TorchTrainer(torch, args.dims, x, y, 128, fused=True)
        trainer.epoch()
        with torch.inference_mode():
            torch.softmax(trainer.model(trainer.X), dim=1)
    else:
        model = denso_model(args.dims)
        model.fit(x, y, epochs=1, batch_size=128, verbose=0)
        model.predict(x)
    return {"import": after_import, "data": after_data - after_import, "peak": T.peak_rss_mb()}


def bench_memory(args, torch) -> list:
    rows = []
    for library in ["denso"] + (["torch"] if torch is not None else []):
        cmd = [sys.executable, os.path.abspath(__file__), "--rss-child", library, "--threads",
               ",".join(map(str, args.threads)), "--rss-samples", str(args.rss_samples),
               "--dims", ",".join(map(str, args.dims))]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        try:
            result = json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            print(f"memory child for {library} failed:\n{done.stderr}", file=sys.stderr)
            continue
        rows.append({"library": library, **result})
    headers = ["library", "RSS after import (MB)", "data (MB)", "peak RSS (MB)", "peak − import − data (MB)"]
    table = T.markdown_table(headers, [[r["library"], T.fmt(r["import"]), T.fmt(r["data"]), T.fmt(r["peak"]),
                                        T.fmt(r["peak"] - r["import"] - r["data"])] for r in rows])
    print(f"### Peak memory (separate processes: import, {args.rss_samples:,} samples, one epoch at batch 128 "
          f"with Adam, predict on all samples)\n\n{table}\n", flush=True)
    return rows


# ---- targets ------------------------------------------------------------------------------------------------
def targets_table(train_rows: list, infer_rows: list, threads: int = 2) -> str:
    """The issue's targets at `threads` threads against what this run measured."""
    out = []

    def add(name, required, value, met):
        out.append([name, required, value, "yes" if met else "**no**"])

    for r in [r for r in train_rows if r["threads"] == threads]:
        if r["batch"] in TRAIN_TARGETS and r["torch_fused"] == r["torch_fused"]:
            need = TRAIN_TARGETS[r["batch"]]
            steady = r["torch_fused"] / r["denso_epoch"]
            add(f"training batch {r['batch']}: × vs fused Adam (fit call / steady epoch)", f"≥ {need:g}×",
                f"{T.fmt(r['vs_fused'])}× / {T.fmt(steady)}×", r["vs_fused"] >= need)
    for r in [r for r in train_rows if r["threads"] == threads and r["batch"] == 2048]:
        add("training batch 2048: share of GEMM ceiling", "≥ 75%", T.fmt(100 * r["ceiling_share"]) + "%",
            r["ceiling_share"] >= 0.75)
    for r in [r for r in infer_rows if r["threads"] == threads]:
        ratio = r["torch"] / r["denso"]
        if r["batch"] == 1:
            add("inference batch 1: latency, × vs torch", "≤ 3 µs, ≥ 8×",
                f"{T.fmt(r['denso'] * 1e6)} µs, {T.fmt(ratio)}×", r["denso"] <= 3e-6 and ratio >= 8)
        elif r["batch"] == 1024:
            add("inference batch 1024: throughput × vs torch", "≥ 1.5×", f"{T.fmt(ratio)}×", ratio >= 1.5)
    if not out:
        return ""
    return (f"### Targets at {threads} threads\n\n"
            + T.markdown_table(["target", "required", "measured", "met"], out))


# ---- command line -------------------------------------------------------------------------------------------
def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=T.parse_ints, default=[1, 2], help="thread counts, e.g. 1,2")
    p.add_argument("--batches", type=T.parse_ints, default=list(BATCHES), help="training batch sizes")
    p.add_argument("--infer-batches", type=T.parse_ints, default=[1, 1024], help="inference batch sizes")
    p.add_argument("--repeats", type=int, default=5, help="interleaved rounds per cell (medians reported)")
    p.add_argument("--samples", type=int, default=32768, help="samples per timed epoch (before step limits)")
    p.add_argument("--max-steps", type=int, default=2048, help="at most this many steps per timed epoch")
    p.add_argument("--min-steps", type=int, default=16, help="at least this many steps per timed epoch")
    p.add_argument("--infer-time", type=float, default=0.05, help="seconds per inference timing")
    p.add_argument("--gemm-size", type=int, default=2048, help="n of the n³ GEMM ceiling")
    p.add_argument("--rss-samples", type=int, default=32768, help="samples in the memory measurement")
    p.add_argument("--dims", type=T.parse_ints, default=list(DIMS), help="layer widths, input first")
    p.add_argument("--sections", default="training,inference,memory", help="comma list of sections to run")
    p.add_argument("--no-torch", action="store_true", help="report denso alone")
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    p.add_argument("--rss-child", choices=["denso", "torch"], help=argparse.SUPPRESS)
    p.add_argument("--denso-worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.batches, args.infer_batches = [1, 32], [1, 64]
        args.repeats, args.samples, args.max_steps, args.min_steps = 2, 64, 64, 2
        args.infer_time, args.gemm_size, args.rss_samples = 0.002, 128, 256
        args.threads = args.threads[:1] if args.threads == [1, 2] else args.threads
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    T.pin_blas_env(max(args.threads))
    if args.rss_child:
        print(json.dumps(rss_child(args.rss_child, args)))
        return {}
    if args.denso_worker:
        denso_worker(args)
        return {}
    torch = T.load_torch(not args.no_torch)
    info = T.machine_info(torch)
    print(T.header("denso vs PyTorch: training and inference", info))
    print(f"Network {'-'.join(map(str, args.dims))} (ReLU, softmax cross-entropy, Adam lr 1e-3), "
          f"{n_params(args.dims):,} parameters, {6 * n_params(args.dims) / 1e6:.2f} MFLOP per training sample; "
          f"medians of {args.repeats} interleaved repeats.\n", flush=True)
    ceilings = T.gemm_ceilings(args.threads, torch, args.gemm_size, repeats=3 if args.quick else 5)
    print("### GEMM ceiling (float32, best of the repeats)\n\n" + T.gemm_table(ceilings, args.gemm_size) + "\n", flush=True)
    result = {"info": info, "ceilings": ceilings, "training": [], "inference": [], "memory": []}
    worker = DensoProcess(args)
    try:
        if "training" in args.sections:
            result["training"] = bench_training(args, torch, ceilings, worker)
        if "inference" in args.sections:
            result["inference"] = bench_inference(args, torch, worker)
    finally:
        worker.close()
    if "memory" in args.sections:
        result["memory"] = bench_memory(args, torch)
    if torch is not None and 2 in args.threads:
        table = targets_table(result["training"], result["inference"], 2)
        if table:
            print(table + "\n")
    print(f"Load average at end: {T.load_average()}", flush=True)
    return result


if __name__ == "__main__":
    main()
