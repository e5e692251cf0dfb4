#!/usr/bin/env python
"""Data-parallel training over MPI: measured scaling on this machine, then a cost model for clusters.

1. Throughput of fit(distributed=True) on the 784-256-128-10 network (Adam, float32, one thread per
   rank) for K = 1, 2 ranks and K = 4 (oversubscribed: more ranks than cores, labelled), at global
   batch 128 and 1024: samples/s, speedup, parallel efficiency (speedup / K) and the share of each
   step spent in the gradient Allreduce (waiting for the slowest rank included).
2. A cost model for K = 2 … 64 nodes on 10 and 100 Gb/s networks: a synchronous step costs the
   compute of the node's B/K rows (this machine's measured single-core time at that batch size) plus
   a ring allreduce of the float32 gradient, 4 · parameters · 2(K − 1)/K bytes per node over the link,
   plus 2(K − 1) message latencies. Efficiency = one node's time for batch B / (K · step time); the
   table gives it per global batch B = 32 … 4096 and the smallest B from which it stays ≥ 80 %.

    python benchmarks/scaling_mpi.py              # about a minute; needs mpi4py and mpiexec
    python benchmarks/scaling_mpi.py --quick      # smoke test

It launches `mpiexec -n K python -m mpi4py benchmarks/scaling_mpi.py --worker ...` for each K.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing as T  # noqa: E402
import bench_training as B  # noqa: E402

RANKS = (1, 2, 4)
BATCHES = (128, 1024)
MODEL_BATCHES = (32, 64, 128, 256, 512, 1024, 2048, 4096)
MODEL_NODES = (2, 4, 8, 16, 32, 64)
# (name, bytes/s, seconds per message): 10 GbE over TCP, 100 Gb/s InfiniBand/RoCE with RDMA.
NETWORKS = (("10 Gb/s Ethernet (TCP, 25 µs/message)", 10e9 / 8, 25e-6),
            ("100 Gb/s InfiniBand (RDMA, 2 µs/message)", 100e9 / 8, 2e-6))
TARGET = 0.8


# ---- the worker: one rank of one measured configuration ------------------------------------------------------
def epoch_timer():
    """A callback recording (epoch seconds, allreduce seconds) of every epoch of `timer.trainer`'s fit."""
    import denso

    class EpochTimer(denso.callbacks.Callback):
        trainer = None

        def __init__(self):
            super().__init__()
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start, self.reduced = time.perf_counter(), self.trainer.group.allreduce.seconds

        def on_epoch_end(self, epoch, logs=None):
            self.times.append((time.perf_counter() - self.start, self.trainer.group.allreduce.seconds - self.reduced))
    return EpochTimer()


def worker(args) -> None:
    """Train each batch size for args.epochs epochs; rank 0 prints one JSON line with every rank's
    (epoch seconds, allreduce seconds) per epoch."""
    T.import_denso()
    import denso
    from denso.trainer import FitOptions, Trainer
    from mpi4py import MPI
    denso.set_num_threads(args.threads)
    x, y = B.make_data(args.samples, B.DIMS)
    result = {}
    for batch in args.batches:
        timer = epoch_timer()
        options = FitOptions(epochs=args.epochs, batch_size=batch, verbose=0, seed=0, distributed=True,
                             callbacks=(timer,))
        timer.trainer = Trainer(B.denso_model(B.DIMS, 0), options)
        timer.trainer.fit(x, y)
        result[batch] = timer.times
    everywhere = MPI.COMM_WORLD.gather(result, root=0)
    if MPI.COMM_WORLD.Get_rank() == 0:
        print("RESULT " + json.dumps(everywhere), flush=True)


# ---- the driver: launches the workers, measures one core, prints the tables ---------------------------------
def mpiexec():
    """The `mpiexec` on PATH or beside this Python (where `pip install mpich` puts it), or None."""
    return shutil.which("mpiexec") or shutil.which("mpiexec", path=os.path.dirname(sys.executable))


def launch(ranks: int, args, threads: int = 1) -> list:
    """Every rank's {batch: [(epoch s, allreduce s), ...]} from `mpiexec -n ranks`, `threads` per rank."""
    command = [mpiexec(), "-n", str(ranks), sys.executable, "-m", "mpi4py", os.path.abspath(__file__),
               "--worker", "--samples", str(args.samples), "--epochs", str(args.epochs), "--threads", str(threads),
               "--batches", ",".join(map(str, args.batches))]
    env = dict(os.environ, DENSO_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS=str(threads))
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return [{int(b): t for b, t in r.items()} for r in json.loads(lines[0][len("RESULT "):])]


def steady(per_rank: list, batch: int) -> tuple:
    """(epoch seconds, allreduce share): medians over the epochs after the first, the slowest rank's
    epoch time, and the ranks' mean share of it spent in Allreduce."""
    epochs = len(per_rank[0][batch])
    kept = range(1 if epochs > 1 else 0, epochs)
    seconds = T.median([max(r[batch][e][0] for r in per_rank) for e in kept])
    share = T.median([sum(r[batch][e][1] / r[batch][e][0] for r in per_rank) / len(per_rank) for e in kept])
    return seconds, share


def measured_table(results: dict, args, cores: int) -> tuple:
    """The markdown table of the measured runs ({(ranks, threads per rank): per-rank results}) and its
    rows as dicts; speedups are against 1 rank with 1 thread."""
    rows, cells = [], []
    for batch in args.batches:
        base = None
        for ranks, threads in sorted(results, key=lambda k: (k[1], k[0])):
            seconds, share = steady(results[ranks, threads], batch)
            throughput = args.samples / seconds
            base = throughput if (ranks, threads) == (1, 1) else base
            speedup = throughput / base if base else float("nan")
            label = f"{ranks}" + (f" (oversubscribed: {cores} cores)" if ranks > cores else "")
            label += f" × {threads} threads (no MPI traffic: the threads' reference)" if threads > 1 else ""
            rows.append({"ranks": ranks, "threads": threads, "batch": batch, "samples_per_s": throughput, "speedup": speedup,
                         "efficiency": speedup / (ranks * threads), "allreduce_share": share})
            cells.append([str(batch), label, T.fmt(throughput), T.fmt(speedup) + "×",
                          T.fmt(100 * speedup / (ranks * threads)) + "%",
                          T.fmt(100 * share) + "%"])
    headers = ["global batch", "ranks", "samples/s", "speedup", "efficiency", "Allreduce share of a step"]
    return T.markdown_table(headers, cells), rows


def step_seconds(args) -> dict:
    """This machine's single-core seconds per training step at local batch sizes 1, 2, 4 … max
    (model.fit: the best of `repeats` medians of 3 epochs after a first one; the best, because other
    processes only ever slow a deterministic computation down): the compute a node spends on its shard."""
    T.import_denso()
    import denso
    denso.set_num_threads(1)
    out, local = {}, 1
    while local <= max(args.model_batches):
        steps = max(3, min(200, int(args.model_seconds / (local * 4e-6))))  # ~4 µs per sample and step
        x, y = B.make_data(steps * local, B.DIMS)
        out[local] = min(B.DensoTrainer(B.DIMS, x, y, local).run(epochs=4)["epoch"] for _ in range(args.repeats)) / steps
        local *= 2
    return out


def efficiency(batch: int, nodes: int, seconds: dict, params: int, network) -> float:
    """Modelled parallel efficiency of `nodes` nodes at global batch `batch` (NaN if a node gets no row)."""
    if batch < nodes:
        return float("nan")
    _, bandwidth, latency = network
    local = 1 << math.ceil(math.log2(math.ceil(batch / nodes)))  # the largest shard, rounded up to a measured size
    comm = 2 * (nodes - 1) * latency + 4 * params * 2 * (nodes - 1) / nodes / bandwidth
    return seconds[batch] / (nodes * (seconds[local] + comm))


def model_tables(seconds: dict, args) -> tuple:
    """Per network: the markdown table of modelled efficiencies and {nodes: smallest batch ≥ 80 % or None}."""
    params = B.n_params(B.DIMS)
    tables, thresholds = [], {}
    for network in NETWORKS:
        cells, reached = [], {}
        for nodes in args.model_nodes:
            values = [efficiency(b, nodes, seconds, params, network) for b in args.model_batches]
            ok = [b for b, e in zip(args.model_batches, values) if e >= TARGET]
            # "stays": from that batch on, every larger one is ≥ 80 % too
            first = next((b for i, b in enumerate(args.model_batches)
                          if all(v >= TARGET for v in values[i:])), None)
            reached[nodes] = first if ok else None
            cells.append([str(nodes)] + [T.fmt(100 * e) + "%" if e == e else "n/a" for e in values]
                         + [str(first) if first else f"none up to {max(args.model_batches)}"])
        headers = ["nodes"] + [f"B={b}" for b in args.model_batches] + ["≥ 80 % from batch"]
        tables.append((network[0], T.markdown_table(headers, cells)))
        thresholds[network[0]] = reached
    return tables, thresholds


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--ranks", type=T.parse_ints, default=list(RANKS), help="rank counts to launch, e.g. 1,2,4")
    p.add_argument("--batches", type=T.parse_ints, default=list(BATCHES), help="global batch sizes measured")
    p.add_argument("--samples", type=int, default=16384, help="samples per epoch")
    p.add_argument("--epochs", type=int, default=6, help="epochs per run (the first is not timed)")
    p.add_argument("--model-batches", type=T.parse_ints, default=list(MODEL_BATCHES), help="cost model batches")
    p.add_argument("--model-nodes", type=T.parse_ints, default=list(MODEL_NODES), help="cost model node counts")
    p.add_argument("--model-seconds", type=float, default=0.15, help="timed work per single-core measurement")
    p.add_argument("--repeats", type=int, default=3, help="single-core measurements per batch size (best kept)")
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)  # a worker's threads per rank
    p.add_argument("--no-threads-row", action="store_true", help="skip the 1 rank × all cores reference row")
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    args = p.parse_args(argv)
    if args.quick:
        args.ranks, args.batches, args.samples, args.epochs = [1, 2], [64], 512, 2
        args.model_batches, args.model_nodes, args.model_seconds, args.repeats = [32, 64], [2, 4], 0.01, 1
        args.no_threads_row = True
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    T.pin_blas_env(1)
    if mpiexec() is None:
        raise SystemExit("scaling_mpi needs mpi4py and an `mpiexec`: pip install mpi4py mpich")
    info = T.machine_info()
    print(T.header("denso data-parallel scaling (MPI)", info))
    print(f"fit(distributed=True) on {'-'.join(map(str, B.DIMS))} ({B.n_params(B.DIMS):,} parameters), Adam, float32, "
          f"one thread per rank, {args.samples:,} samples per epoch; medians over epochs 2-{args.epochs}.\n", flush=True)
    results = {(ranks, 1): launch(ranks, args) for ranks in args.ranks}
    if not args.no_threads_row and (info["cores"] or 1) > 1:
        results[1, info["cores"]] = launch(1, args, threads=info["cores"])
    table, rows = measured_table(results, args, info["cores"])
    print("### Measured on this machine\n\n" + table + "\n", flush=True)
    seconds = step_seconds(args)
    per_step = ", ".join(f"{b}: {T.fmt(s * 1e3)} ms" for b, s in seconds.items())
    print(f"### Cost model\n\nSingle-core step time by batch (measured here): {per_step}.\n", flush=True)
    tables, thresholds = model_tables(seconds, args)
    for name, text in tables:
        print(f"Modelled efficiency on {name}:\n\n{text}\n", flush=True)
    print(f"Load average at end: {T.load_average()}", flush=True)
    return {"info": info, "measured": rows, "step_seconds": seconds, "thresholds": thresholds}


if __name__ == "__main__":
    main()
