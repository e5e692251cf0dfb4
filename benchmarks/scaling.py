#!/usr/bin/env python
"""How denso's training step scales with batch size, layer width and depth, so cliffs show up.

Three sweeps, each a markdown table of steady per-step cost (µs/step, µs/sample) and achieved
GFLOP/s (6 · parameters · batch per step) with its share of the float32 GEMM ceiling:

  * batch 1 … 4096 on the 784-256-128-10 network;
  * width 64 … 4096: 784-w-w-10 at batch 128;
  * depth 1 … 8 hidden layers of 256 units at batch 128.

PyTorch's fused Adam runs interleaved beside denso when torch is installed (--no-torch to skip).

    python benchmarks/scaling.py                          # 2 threads, all sweeps (a few minutes)
    python benchmarks/scaling.py --threads 1,2 --sweeps width
    python benchmarks/scaling.py --quick
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing as T  # noqa: E402
import bench_training as B  # noqa: E402

BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
WIDTHS = (64, 128, 256, 512, 1024, 2048, 4096)
DEPTHS = (1, 2, 3, 4, 5, 6, 7, 8)


def configs(args) -> dict:
    """sweep name → list of (label, dims, batch)."""
    inp, out = B.DIMS[0], B.DIMS[-1]
    return {
        "batch": [(str(b), B.DIMS, b) for b in args.batch_sizes],
        "width": [(str(w), (inp, w, w, out), args.batch) for w in args.widths],
        "depth": [(str(d), (inp,) + (args.depth_width,) * d + (out,), args.batch) for d in args.depths],
    }


def measure(dims, batch: int, threads: int, args, torch) -> dict:
    """Steady epoch time of denso (and torch fused Adam) for one configuration."""
    per_sample = 6.0 * B.n_params(dims)
    samples = int(args.gflop * 1e9 / per_sample)
    steps = B.steps_for(batch, samples, args.max_steps, args.min_steps)
    x, y = B.make_data(steps * batch, dims)
    T.set_threads(threads, torch)
    cases = {"denso": B.DensoTrainer(dims, x, y, batch).run}
    if torch is not None:
        cases["torch_fused"] = B.TorchTrainer(torch, dims, x, y, batch, fused=True).epoch
    samples_ = T.interleaved(cases, args.repeats, warmup=1)
    row = {"steps": steps, "batch": batch, "threads": threads, "params": B.n_params(dims),
           "denso": T.field_median(samples_["denso"], "epoch") / steps}
    row["torch"] = T.field_median(samples_["torch_fused"], "wall") / steps if torch is not None else float("nan")
    row["gflops"] = per_sample * batch / row["denso"] / 1e9
    return row


def sweep_table(name: str, rows: list, ceilings: dict, with_torch: bool) -> str:
    label = {"batch": "batch", "width": "width", "depth": "hidden layers"}[name]
    headers = [label, "threads", "params"] + ([] if name == "batch" else ["batch"])
    headers += ["µs/step", "µs/sample", "GFLOP/s", "% of ceiling"]
    if with_torch:
        headers += ["torch fused µs/step", "× vs fused"]
    out = []
    for r in rows:
        share = r["gflops"] / ceilings.get(r["threads"], {}).get("ceiling", float("nan"))
        cells = [r["label"], str(r["threads"]), T.fmt(r["params"])] + ([] if name == "batch" else [str(r["batch"])])
        cells += [T.fmt(r["denso"] * 1e6),
                 T.fmt(r["denso"] * 1e6 / r["batch"]), T.fmt(r["gflops"]), T.fmt(100 * share) + "%"]
        if with_torch:
            cells += [T.fmt(r["torch"] * 1e6), T.fmt(r["torch"] / r["denso"]) + "×"]
        out.append(cells)
    return T.markdown_table(headers, out)


TITLES = {
    "batch": "Batch size (784-256-128-10)",
    "width": "Width w (784-w-w-10, batch {batch})",
    "depth": "Depth (784-{depth_width}×d-10, batch {batch})",
}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=T.parse_ints, default=[2], help="thread counts, e.g. 1,2")
    p.add_argument("--sweeps", default="batch,width,depth", help="comma list of batch, width, depth")
    p.add_argument("--batch-sizes", type=T.parse_ints, default=list(BATCHES), help="batch sweep values")
    p.add_argument("--widths", type=T.parse_ints, default=list(WIDTHS), help="width sweep values")
    p.add_argument("--depths", type=T.parse_ints, default=list(DEPTHS), help="depth sweep values")
    p.add_argument("--batch", type=int, default=128, help="batch size of the width and depth sweeps")
    p.add_argument("--depth-width", type=int, default=256, help="hidden width of the depth sweep")
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds per point (medians reported)")
    p.add_argument("--gflop", type=float, default=20.0, help="work per timed epoch, in GFLOP")
    p.add_argument("--max-steps", type=int, default=2048, help="at most this many steps per timed epoch")
    p.add_argument("--min-steps", type=int, default=4, help="at least this many steps per timed epoch")
    p.add_argument("--gemm-size", type=int, default=2048, help="n of the n³ GEMM ceiling")
    p.add_argument("--no-torch", action="store_true", help="denso alone")
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    args = p.parse_args(argv)
    if args.quick:
        args.batch_sizes, args.widths, args.depths = [1, 16], [16, 32], [1, 2]
        args.repeats, args.gflop, args.max_steps, args.min_steps, args.gemm_size = 1, 0.01, 16, 2, 128
        args.batch = 16
    args.sweeps = [s.strip() for s in args.sweeps.split(",") if s.strip()]
    unknown = set(args.sweeps) - set(TITLES)
    if unknown:
        p.error(f"unknown sweeps {sorted(unknown)}; choose from {sorted(TITLES)}")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    T.pin_blas_env(max(args.threads))
    torch = T.load_torch(not args.no_torch)
    info = T.machine_info(torch)
    print(T.header("denso scaling: batch size, width, depth", info))
    print(f"Steady epoch time per step (model.fit, Adam lr 1e-3, ReLU, softmax cross-entropy), medians of "
          f"{args.repeats} interleaved repeats; a training step is 6 · parameters · batch FLOPs.\n", flush=True)
    ceilings = T.gemm_ceilings(args.threads, torch, args.gemm_size, repeats=3)
    print("### GEMM ceiling (float32, best of the repeats)\n\n" + T.gemm_table(ceilings, args.gemm_size) + "\n", flush=True)
    result = {"info": info, "ceilings": ceilings}
    for name, points in configs(args).items():
        if name not in args.sweeps:
            continue
        rows = []
        for label, dims, batch in points:
            for threads in args.threads:
                rows.append({"label": label, **measure(dims, batch, threads, args, torch)})
        title = TITLES[name].format(batch=args.batch, depth_width=args.depth_width)
        print(f"### {title}\n\n{sweep_table(name, rows, ceilings, torch is not None)}\n", flush=True)
        result[name] = rows
    print(f"Load average at end: {T.load_average()}", flush=True)
    return result


if __name__ == "__main__":
    main()
