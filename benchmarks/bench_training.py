#!/usr/bin/env python
"""denso against PyTorch, numpy and scikit-learn on the same dense network, data, batch sizes and threads.

Training throughput per batch size and thread count (denso through `model.fit`, PyTorch with the
default and the fused Adam), inference latency (batch 1) and throughput (batch 1024) against torch,
onnxruntime (on denso's ONNX export) and a plain numpy forward, one scikit-learn MLPClassifier epoch,
the machine's float32 GEMM rate (numpy,
torch and denso's own) measured in the same run, peak memory, the native batch-1 floor from
`denso-bench`, and finally the machine-independent targets of the performance issue (#8), one table
per thread count. Prints markdown tables.

    python benchmarks/bench_training.py                        # the full run (about 6 minutes)
    python benchmarks/bench_training.py --threads 2 --batches 32,128 --repeats 3
    python benchmarks/bench_training.py --no-torch             # without PyTorch
    python benchmarks/bench_training.py --sections training,sklearn
    python benchmarks/bench_training.py --quick                # tiny sizes: checks that it runs

Sections (--sections, all by default): training, inference, memory, sklearn, floor.

How it measures (see also _timing.py):
  * denso: `model.fit(x, y, epochs=2, batch_size=b, verbose=0)` over in-memory float32 data, with a
    LambdaCallback timing each epoch. "fit" is the cost of one `fit(epochs=1)` call (wall time minus
    the second epoch: validation, plan build, shuffle, batches); "epoch" is the second epoch alone
    (shuffle + batches), i.e. the steady per-step cost. denso runs in a worker process of its own.
  * PyTorch: the same nn.Linear/ReLU stack, CrossEntropyLoss and Adam (lr 1e-3), default and
    fused=True, trained by the usual loop over tensors: a fresh randperm each epoch, then
    `xb = X[perm[i:i+b]]`, zero_grad, forward, loss, backward, step. One epoch per timing.
  * onnxruntime (inference, when onnx and onnxruntime are installed): denso's model exported by
    `denso.onnx` (Gemm, Relu, Softmax: the output of `predict`), one InferenceSession per thread count
    with `intra_op_num_threads` set to it and onnxruntime's other defaults; `session.run` per call.
  * numpy (inference): x@W1+b1, relu, @W2+b2, relu, @W3+b3, softmax in float32 on denso's weights,
    with numpy's BLAS set to the cell's thread count (threadpoolctl).
  * scikit-learn: MLPClassifier(hidden_layer_sizes=(256, 128), solver="adam", batch_size=200,
    learning_rate_init=1e-3, shuffle=True), one `partial_fit` call (one epoch) per timing against
    denso at batch 200 on the same data; its BLAS set to the cell's thread count.
  * Every cell runs the contenders round-robin (rotating who goes first), after one warm-up each,
    and reports medians over --repeats rounds. Speedups are the other library's time / denso's time
    with denso's full `fit` call cost, so they never flatter denso.
  * FLOPs are the real GEMM FLOPs of a step, not 6 · parameters · batch: for widths d0..dL and batch
    b, forward Σ 2·b·d_l·d_(l+1), weight gradients the same again, input gradients for every layer
    but the first Σ_(l≥1) 2·b·d_l·d_(l+1) (bias and elementwise work not counted). Inference counts
    the forward GEMMs alone. GFLOP/s and "% of ceiling" use these counts and the steady epoch time;
    the ceiling is the best float32 2048³ GEMM of the run at the same thread count: numpy's (in a
    child process), torch's and denso's own (`denso.functional.dense(a, b)`, which runs denso's C++
    kernel, in the denso worker).
  * The batch-1 floor (one step against one fused read-modify-write pass over params, m and v) has
    no Python binding: it comes from `denso-bench --floor-only` (on PATH after `pip install`, else
    build-bench/denso-bench), reported as n/a when that is missing or fails.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing as T  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIMS = (784, 256, 128, 10)
BATCHES = (1, 8, 32, 128, 512, 2048)
SECTIONS = ("training", "inference", "memory", "sklearn", "floor")

# ---- issue #8 targets (machine-independent: ratios and shares; at 1 and at 2 threads) ----
# denso's speedup over torch's fused Adam per batch size, required on the fit call.
TRAIN_TARGETS = {1: 10.0, 8: 5.0, 32: 2.5, 128: 1.5, 512: 1.2, 2048: 1.2}
INFER_LATENCY_US = 20.0       # batch 1: µs per `predict` call from Python, at most
INFER_VS_NUMPY = 2.0          # batch 1: × vs the numpy three-matmul forward, at least
INFER_SHARE = 0.85            # batch 1024: share of the best GEMM rate (forward FLOPs), at least
INFER_VS_TORCH = 1.2          # batch 1024: × vs torch forward + softmax, at least
SKLEARN_BATCH = 200
SKLEARN_SPEEDUP = 3.0         # × vs scikit-learn's MLPClassifier epoch at 1 thread, at least
FLOOR_RATIO = 1.5             # batch-1 step / one fused read-modify-write pass over params, m, v, at most


def train_share_target(batch: int):
    """Required share of the best GEMM rate for a training step at `batch` (None: no target)."""
    return 0.85 if batch >= 512 else 0.75 if batch >= 128 else None


def n_params(dims) -> int:
    """Weights and biases of a dense stack: Σ out · (in + 1)."""
    return sum((a + 1) * b for a, b in zip(dims[:-1], dims[1:]))


def forward_flops(dims, batch: int) -> float:
    """GEMM FLOPs of a forward pass over `batch` rows: Σ 2·b·d_l·d_(l+1)."""
    return sum(2.0 * batch * a * b for a, b in zip(dims[:-1], dims[1:]))


def step_gemm_flops(dims, batch: int) -> float:
    """Real GEMM FLOPs of a training step: forward, weight gradients (the same again) and input
    gradients of every layer but the first (its input needs none)."""
    pairs = list(zip(dims[:-1], dims[1:]))
    dx = sum(2.0 * batch * a * b for a, b in pairs[1:])
    return 2 * forward_flops(dims, batch) + dx


def train_gflop(dims, samples: int) -> float:
    """Real GEMM GFLOPs of training on `samples` samples (linear in the batch, so any split into steps)."""
    return step_gemm_flops(dims, samples) / 1e9


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


def denso_gemm_gflops(size: int, repeats: int) -> dict:
    """denso's own float32 size³ product, best-of-repeats GFLOP/s: `denso.functional.dense(a, b)` runs
    the C++ dense kernel (no bias, identity activation; it allocates its output, as a product does)."""
    import numpy as np
    from denso import functional as F
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    try:
        F.dense(a, b)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            F.dense(a, b)
            times.append(time.perf_counter() - t0)
    except Exception as exc:  # report, do not kill the worker
        return {"gflops": float("nan"), "error": f"{type(exc).__name__}: {exc}"}
    return {"gflops": 2.0 * size**3 / min(times) / 1e9}


def denso_worker(args) -> None:
    """Serve timing requests on stdin (one JSON object a line), answer on stdout."""
    import numpy as np
    trainers, predictors = {}, {}
    for line in sys.stdin:
        req = json.loads(line)
        T.set_threads(req["threads"], None)
        if req["op"] == "gemm":
            reply = denso_gemm_gflops(req["size"], req["repeats"])
        elif req["op"] == "train":
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
            gflop = train_gflop(args.dims, n)  # real GEMM FLOPs of the epoch's steps
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
    # GFLOP/s: real GEMM FLOPs per step (see step_gemm_flops) over the steady epoch's step time
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
def numpy_forward(x, weights):
    """The plain numpy forward: x@W1+b1, relu, @W2+b2, relu, ..., @WL+bL, softmax (float32)."""
    import numpy as np
    h = x
    last = len(weights) // 2 - 1
    for i, (w, b) in enumerate(zip(weights[0::2], weights[1::2])):
        h = h @ w + b
        if i < last:
            h = np.maximum(h, 0)
    e = np.exp(h - h.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def bench_inference(args, torch, ceilings: dict, worker) -> list:
    """Latency at batch 1 and throughput at batch 1024: denso `predict`, torch forward + softmax, onnxruntime
    on denso's exported graph, numpy forward on denso's weights."""
    import numpy as np
    rows = []
    x, _ = make_data(max(args.infer_batches), args.dims, seed=1)
    tmodel = torch_model(torch, args.dims).eval() if torch is not None else None
    weights = [w.astype(np.float32) for w in denso_model(args.dims).get_weights()]  # the worker's model
    ort_session = onnxruntime_sessions(args)
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
            if ort_session is not None:
                session = ort_session(threads)
                cases["onnxruntime"] = _latency_case(lambda: session.run(["output"], {"input": xb}), args.infer_time)
            cases["numpy"] = _blas_case(threads, _latency_case(lambda: numpy_forward(xb, weights), args.infer_time))
            samples = T.interleaved(cases, args.repeats, warmup=0)
            row = {"batch": batch, "threads": threads, "denso": T.field_median(samples["denso"], "per_call"),
                   "numpy": T.field_median(samples["numpy"], "per_call")}
            for other in ("torch", "onnxruntime"):
                row[other] = T.field_median(samples[other], "per_call") if other in samples else float("nan")
            row["denso_gflops"] = forward_flops(args.dims, batch) / row["denso"] / 1e9
            row["ceiling_share"] = row["denso_gflops"] / ceilings.get(threads, {}).get("ceiling", float("nan"))
            rows.append(row)
    print(inference_table(rows, torch is not None, ort_session is not None) + "\n", flush=True)
    if ort_session is None:
        print("(onnxruntime or onnx is not installed: its columns are skipped; pip install onnx onnxruntime.)\n",
              flush=True)
    if not T.numpy_blas_controlled():
        print("(threadpoolctl is not installed: numpy's BLAS ran on the threads set by OPENBLAS_NUM_THREADS, "
              "not on the cell's thread count.)\n", flush=True)
    return rows


def onnxruntime_sessions(args):
    """threads → an onnxruntime session (its defaults, `threads` intra-op threads) on the worker's model
    exported by denso.onnx; None when onnx or onnxruntime is missing (or DENSO_BENCH_NO_ONNXRUNTIME is set)."""
    if os.environ.get("DENSO_BENCH_NO_ONNXRUNTIME"):
        return None
    try:
        import onnx  # noqa: F401  (denso.onnx builds the graph with it)
        import onnxruntime
    except ImportError:
        return None
    import denso.onnx
    graph = denso.onnx.to_proto(denso_model(args.dims)).SerializeToString()
    sessions = {}

    def session(threads: int):
        if threads not in sessions:
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
            sessions[threads] = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        return sessions[threads]
    return session


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


def _blas_case(threads: int, inner):
    """`inner` with numpy's BLAS on `threads` threads (set outside the timed calls)."""
    def case():
        with T.blas_threads(threads):
            return inner()
    return case


def inference_table(rows: list, with_torch: bool, with_onnxruntime: bool = False) -> str:
    headers = ["batch", "threads", "denso µs/call", "denso samples/s"]
    if with_torch:
        headers += ["torch µs/call", "torch samples/s", "× vs torch"]
    if with_onnxruntime:
        headers += ["onnxruntime µs/call", "onnxruntime samples/s", "× vs onnxruntime"]
    headers += ["numpy µs/call", "× vs numpy", "denso GFLOP/s", "denso % of ceiling"]
    out = []
    for r in rows:
        cells = [str(r["batch"]), str(r["threads"]), T.fmt(r["denso"] * 1e6), T.fmt(r["batch"] / r["denso"])]
        if with_torch:
            cells += [T.fmt(r["torch"] * 1e6), T.fmt(r["batch"] / r["torch"]), T.fmt(r["torch"] / r["denso"]) + "×"]
        if with_onnxruntime:
            cells += [T.fmt(r["onnxruntime"] * 1e6), T.fmt(r["batch"] / r["onnxruntime"]),
                      T.fmt(r["onnxruntime"] / r["denso"]) + "×"]
        cells += [T.fmt(r["numpy"] * 1e6), T.fmt(r["numpy"] / r["denso"]) + "×", T.fmt(r["denso_gflops"]),
                  T.fmt(100 * r["ceiling_share"]) + "%"]
        out.append(cells)
    return ("### Inference (denso `predict` → probabilities; torch forward + softmax under inference_mode; "
            "onnxruntime running denso's ONNX export (same output as predict); "
            "numpy forward + softmax on denso's weights; GFLOP/s counts the forward GEMMs)\n\n"
            + T.markdown_table(headers, out))


# ---- scikit-learn ----------------------------------------------------------------------------------------------
def load_mlp_classifier():
    """sklearn.neural_network.MLPClassifier, or None when scikit-learn is not installed."""
    if os.environ.get("DENSO_BENCH_NO_SKLEARN"):
        return None
    try:
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        return None
    return MLPClassifier


def bench_sklearn(args, worker) -> list:
    """One epoch of scikit-learn's MLPClassifier (adam, batch 200) against denso at batch 200, same data."""
    import numpy as np
    title = f"### scikit-learn MLPClassifier (adam, batch {SKLEARN_BATCH}, one epoch: `partial_fit` vs denso `fit`)"
    mlp = load_mlp_classifier()
    if mlp is None:
        print(f"{title}\n\nscikit-learn is not installed: row skipped.\n", flush=True)
        return []
    steps = steps_for(SKLEARN_BATCH, args.samples, args.max_steps, args.min_steps)
    n = steps * SKLEARN_BATCH
    x, y = make_data(n, args.dims)  # what the worker trains on for (batch, n)
    classes = np.arange(args.dims[-1])
    rows = []
    for threads in args.threads:
        clf = mlp(hidden_layer_sizes=tuple(args.dims[1:-1]), solver="adam", batch_size=SKLEARN_BATCH, max_iter=1,
                  learning_rate_init=1e-3, shuffle=True, tol=0.0, n_iter_no_change=10**9, random_state=0)

        def sklearn_epoch(clf=clf, threads=threads):
            with warnings.catch_warnings(), T.blas_threads(threads):
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                clf.partial_fit(x, y, classes=classes)
                return {"epoch": time.perf_counter() - t0}

        cases = {"denso": lambda threads=threads: worker.call(op="train", batch=SKLEARN_BATCH, n=n, threads=threads),
                 "sklearn": sklearn_epoch}
        samples = T.interleaved(cases, args.repeats, warmup=1)
        row = {"threads": threads, "samples": n, "steps": steps,
               "denso_fit": T.field_median(samples["denso"], "fit"),
               "denso_epoch": T.field_median(samples["denso"], "epoch"),
               "sklearn": T.field_median(samples["sklearn"], "epoch")}
        row["vs_sklearn"] = row["sklearn"] / row["denso_fit"]
        row["vs_sklearn_steady"] = row["sklearn"] / row["denso_epoch"]
        rows.append(row)
    headers = ["threads", "samples", "denso ms/epoch (fit)", "denso ms/epoch (epoch)", "sklearn ms/epoch",
               "× vs sklearn (fit)", "× vs sklearn (epoch)"]
    table = T.markdown_table(headers, [[str(r["threads"]), T.fmt(r["samples"]), T.fmt(1e3 * r["denso_fit"]),
                                        T.fmt(1e3 * r["denso_epoch"]), T.fmt(1e3 * r["sklearn"]),
                                        T.fmt(r["vs_sklearn"]) + "×", T.fmt(r["vs_sklearn_steady"]) + "×"]
                                       for r in rows])
    print(f"{title}\n\n{table}\n", flush=True)
    return rows


# ---- batch-1 floor (denso-bench) -------------------------------------------------------------------------------
FLOOR_SECTION = "### Batch-1 floor"
FLOOR_COLUMNS = {"step_us": "step µs", "rmw_us": "RMW pass µs", "adam_us": "Adam pass µs",
                 "ratio": "step / RMW pass"}


def find_denso_bench():
    """The native benchmark: `denso-bench` on PATH (pip install puts it there), else a CMake build in
    build-bench/, else None."""
    found = shutil.which("denso-bench")
    if found:
        return found
    for name in ("denso-bench", "denso_bench"):
        path = os.path.join(ROOT, "build-bench", name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def parse_floor(text: str) -> dict:
    """threads → {"step_us", "rmw_us", "adam_us", "ratio"} from denso-bench's "### Batch-1 floor" table."""
    start = text.index(FLOOR_SECTION)  # ValueError when missing
    headers, rows = T.parse_markdown_table(text[start:], "threads")
    index = {key: headers.index(name) for key, name in FLOOR_COLUMNS.items()}
    out = {}
    for row in rows:
        values = {}
        for key, i in index.items():
            match = re.search(r"\d[\d,]*\.?\d*", row[i])
            values[key] = float(match.group().replace(",", "")) if match else float("nan")
        out[int(row[0])] = values
    if not out:
        raise ValueError("empty floor table")
    return out


def bench_floor(args) -> dict:
    """{"rows": threads → floor values, "error": None or why there are none, "command": ...}."""
    exe = find_denso_bench()
    if exe is None:
        result = {"rows": {}, "error": "denso-bench not found", "command": None}
    else:
        cmd = [exe, "--floor-only", "--threads", ",".join(map(str, args.threads))] + (["--quick"] if args.quick else [])
        result = {"rows": {}, "error": None, "command": " ".join(["denso-bench"] + cmd[1:])}
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=60 if args.quick else 600)
            if done.returncode != 0:
                lines = [l.strip() for l in done.stderr.splitlines() if l.strip()]
                reason = lines[0] if lines else f"exit status {done.returncode}"
                raise RuntimeError(reason)
            result["rows"] = parse_floor(done.stdout)
        except (OSError, subprocess.SubprocessError, RuntimeError, ValueError, IndexError) as exc:
            result["error"] = f"denso-bench failed: {exc}"
    title = (f"{FLOOR_SECTION} (denso-bench: a batch-1 Adam step vs one fused read-modify-write pass over "
             "params, m and v)")
    if result["error"]:
        print(f"{title}\n\nn/a ({result['error']})\n", flush=True)
    else:
        rows = [[str(t), T.fmt(v["step_us"]), T.fmt(v["rmw_us"]), T.fmt(v["adam_us"]), T.fmt(v["ratio"]) + "×"]
                for t, v in sorted(result["rows"].items())]
        print(f"{title}\n\n`{result['command']}`\n\n"
              + T.markdown_table(["threads"] + list(FLOOR_COLUMNS.values()), rows) + "\n", flush=True)
    return result


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
def _finite(*values) -> bool:
    return all(v == v and v is not None for v in values)


def targets_table(result: dict, threads: int) -> str:
    """The machine-independent targets of issue #8 at `threads` threads against what this run measured."""
    out = []

    def add(name, required, measured, met):
        out.append([name, required, measured, "n/a" if met is None else "yes" if met else "**no**"])

    def pct(share):
        return T.fmt(100 * share) + "%"

    training = [r for r in result.get("training", []) if r["threads"] == threads]
    for r in training:  # 1. GEMM share of a training step
        need = train_share_target(r["batch"])
        if need is not None:
            share = r["ceiling_share"]
            add(f"training batch {r['batch']}: GEMM share (real GEMM FLOPs / step time ÷ best GEMM rate)",
                f"≥ {100 * need:g}%", pct(share), share >= need if _finite(share) else None)
    for r in training:  # 2. vs PyTorch's fused Adam
        if r["batch"] in TRAIN_TARGETS and _finite(r["torch_fused"]):
            need = TRAIN_TARGETS[r["batch"]]
            steady = r["torch_fused"] / r["denso_epoch"]
            add(f"training batch {r['batch']}: × vs PyTorch fused Adam (fit call / steady epoch)",
                f"≥ {need:g}× (fit call)", f"{T.fmt(r['vs_fused'])}× / {T.fmt(steady)}×", r["vs_fused"] >= need)
    for r in [r for r in result.get("inference", []) if r["threads"] == threads]:  # 3. inference
        if r["batch"] == 1:
            add("inference batch 1: µs per `predict` call", f"≤ {INFER_LATENCY_US:g} µs", f"{T.fmt(r['denso'] * 1e6)} µs",
                r["denso"] * 1e6 <= INFER_LATENCY_US)
            ratio = r["numpy"] / r["denso"]
            add("inference batch 1: × vs numpy three-matmul forward", f"≥ {INFER_VS_NUMPY:g}×", f"{T.fmt(ratio)}×",
                ratio >= INFER_VS_NUMPY)
        elif r["batch"] == 1024:
            share = r["ceiling_share"]
            add("inference batch 1024: GEMM share (forward FLOPs / call time ÷ best GEMM rate)",
                f"≥ {100 * INFER_SHARE:g}%", pct(share), share >= INFER_SHARE if _finite(share) else None)
            if _finite(r["torch"]):
                ratio = r["torch"] / r["denso"]
                add("inference batch 1024: × vs torch", f"≥ {INFER_VS_TORCH:g}×", f"{T.fmt(ratio)}×",
                    ratio >= INFER_VS_TORCH)
    for r in [r for r in result.get("sklearn", []) if r["threads"] == threads]:  # 4. scikit-learn
        measured = f"{T.fmt(r['vs_sklearn'])}× / {T.fmt(r['vs_sklearn_steady'])}×"
        name = f"scikit-learn MLPClassifier epoch (batch {SKLEARN_BATCH}): × faster (fit call / steady epoch)"
        if threads == 1:
            add(name, f"≥ {SKLEARN_SPEEDUP:g}× (fit call)", measured, r["vs_sklearn"] >= SKLEARN_SPEEDUP)
        else:
            add(name, f"reported (target ≥ {SKLEARN_SPEEDUP:g}× is at 1 thread)", measured, None)
    floor = result.get("floor")
    if floor:  # 5. batch-1 floor
        name = f"batch-1 floor: step / RMW pass ≤ {FLOOR_RATIO:g}×"
        v = floor["rows"].get(threads)
        if v is not None:
            add(name, f"≤ {FLOOR_RATIO:g}×",
                f"{T.fmt(v['ratio'])}× (step {T.fmt(v['step_us'])} µs, RMW pass {T.fmt(v['rmw_us'])} µs)",
                v["ratio"] <= FLOOR_RATIO if _finite(v["ratio"]) else None)
        else:
            why = "denso-bench not found" if floor["error"] == "denso-bench not found" else \
                "denso-bench failed" if floor["error"] else f"no row for {threads} threads"
            add(name, f"≤ {FLOOR_RATIO:g}×", f"n/a ({why})", None)
    if not out:
        return ""
    return (f"### Targets at {threads} thread{'s' if threads != 1 else ''} (issue #8)\n\n"
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
    p.add_argument("--sections", default=",".join(SECTIONS),
                   help=f"comma list of sections to run (default: all of {','.join(SECTIONS)})")
    p.add_argument("--no-torch", action="store_true", help="report without PyTorch")
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    p.add_argument("--rss-child", choices=["denso", "torch"], help=argparse.SUPPRESS)
    p.add_argument("--denso-worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.batches, args.infer_batches = [1, 128], [1, 1024]
        args.repeats, args.samples, args.max_steps, args.min_steps = 2, 64, 64, 2
        args.infer_time, args.gemm_size, args.rss_samples = 0.002, 128, 256
        args.threads = args.threads[:1] if args.threads == [1, 2] else args.threads
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        p.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
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
          f"{n_params(args.dims):,} parameters, {step_gemm_flops(args.dims, 1) / 1e6:.2f} MFLOP of GEMMs per "
          f"training sample, {forward_flops(args.dims, 1) / 1e6:.2f} per inference sample; "
          f"medians of {args.repeats} interleaved repeats.\n", flush=True)
    if args.quick:
        print(f"--quick: tiny sizes and a {args.gemm_size}³ GEMM ceiling, a smoke test; its verdicts mean nothing.\n",
              flush=True)
    result = {"info": info, "ceilings": {}, "training": [], "inference": [], "memory": [], "sklearn": [],
              "floor": None}
    worker = DensoProcess(args)
    try:
        def denso_gemm(threads, size, repeats):
            reply = worker.call(op="gemm", threads=threads, size=size, repeats=repeats)
            if "error" in reply:
                print(f"denso's GEMM failed: {reply['error']}", file=sys.stderr)
            return reply["gflops"]
        ceilings = T.gemm_ceilings(args.threads, torch, args.gemm_size, repeats=3 if args.quick else 5,
                                   denso=denso_gemm)
        result["ceilings"] = ceilings
        print("### GEMM ceiling (float32, best of the repeats; denso: `denso.functional.dense(a, b)`, its C++ "
              "kernel, in the worker)\n\n" + T.gemm_table(ceilings, args.gemm_size) + "\n", flush=True)
        if "training" in args.sections:
            result["training"] = bench_training(args, torch, ceilings, worker)
        if "inference" in args.sections:
            result["inference"] = bench_inference(args, torch, ceilings, worker)
        if "sklearn" in args.sections:
            result["sklearn"] = bench_sklearn(args, worker)
    finally:
        worker.close()
    if "memory" in args.sections:
        result["memory"] = bench_memory(args, torch)
    if "floor" in args.sections:
        result["floor"] = bench_floor(args)
    result["targets"] = {}
    for threads in args.threads:
        table = targets_table(result, threads)
        if table:
            result["targets"][threads] = table
            print(table + "\n")
    print(f"Load average at end: {T.load_average()}", flush=True)
    return result


if __name__ == "__main__":
    main()
