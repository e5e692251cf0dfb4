"""Synchronous data-parallel training over MPI (mpi4py): `model.fit(x, y, ..., distributed=True)`, the
same call on every rank of `mpiexec -n K python -m mpi4py train.py`.

Every rank holds the full data and the same global permutation of each epoch; rank r trains its
contiguous shard of every batch (`_core.batch_shard`), normalised by the whole batch's size, so the
ranks' gradients add up to the batch gradient. The plan's gradient hook sums them in place in the flat
gradient buffer (one Allreduce per step) and every rank applies the same update. `batch_size` is the
global batch: the same script gives the same steps for any K.

mpi4py is imported only when a function here runs (`import denso` never imports it).
"""
from __future__ import annotations

import math
import time
import zlib

import numpy as np

from . import _core

INSTALL_HINT = "pip install 'denso[mpi]' (mpi4py and the mpich MPI library)"


def mpi():
    """The mpi4py.MPI module (importing it initialises MPI), or ImportError saying what to install."""
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise ImportError(f"distributed training needs mpi4py and an MPI library: {INSTALL_HINT}") from err
    return MPI


def rank() -> int:
    """This process's rank in MPI's COMM_WORLD (0 when run without mpiexec)."""
    return mpi().COMM_WORLD.Get_rank()


def size() -> int:
    """The number of processes in MPI's COMM_WORLD (1 when run without mpiexec)."""
    return mpi().COMM_WORLD.Get_size()


class GradientAllreduce:
    """The gradient hook of data-parallel training: sums the ranks' flat gradient buffers in place, one
    Allreduce per step, straight from the buffer the plan wrote (no copy). `seconds` and `calls`
    count the time spent in it (waiting for the slowest rank included)."""

    def __init__(self, comm):
        MPI = mpi()
        self._allreduce, self._in_place, self._sum = comm.Allreduce, MPI.IN_PLACE, MPI.SUM
        self.seconds, self.calls = 0.0, 0

    def __call__(self, grads, rows, step) -> None:
        started = time.perf_counter()
        self._allreduce(self._in_place, grads, op=self._sum)
        self.seconds += time.perf_counter() - started
        self.calls += 1


class DataParallel:
    """What fit(distributed=True) adds to the training loop, over one communicator (COMM_WORLD)."""

    def __init__(self, comm=None):
        self.comm = mpi().COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.allreduce = GradientAllreduce(self.comm)

    def check_same(self, facts: dict) -> None:
        """Raise ValueError on every rank (not a hang) unless all ranks report the same `facts`."""
        gathered = self.comm.allgather(facts)
        for key in facts:
            values = [f.get(key) for f in gathered]
            if any(v != values[0] for v in values):
                per_rank = ", ".join(f"rank {r}: {v}" for r, v in enumerate(values))
                raise ValueError(f"distributed fit: every rank must pass the same data and settings, but "
                                 f"`{key}` differs ({per_rank})")

    def broadcast(self, value):
        """Rank 0's `value` on every rank."""
        return self.comm.bcast(value, root=0)

    def broadcast_model(self, model) -> None:
        """Rank 0's weights, optimizer state and training counters on every rank."""
        for buffer in [model.flat_parameter.data] + model.optimizer.slot_buffers(0):
            self.comm.Bcast(buffer, root=0)
        model.steps_trained, model.epochs_trained = self.broadcast((model.steps_trained, model.epochs_trained))

    def shard_rows(self, batch_size: int) -> int:
        """The most rows a rank trains of one batch (its plan's workspace)."""
        return math.ceil(batch_size / self.size)

    def reduce(self, totals: "_core.Totals") -> "_core.Totals":
        """The ranks' sums added up, on every rank. The stop flags agree across ranks already (a
        non-finite loss stops all of them at the same batch; the weights are the same everywhere)."""
        sums = np.array([totals.loss, totals.data_loss, totals.correct, totals.abs_error, totals.sq_error,
                         totals.weight, totals.rows], dtype=np.float64)
        self.comm.Allreduce(mpi().IN_PLACE, sums, op=mpi().SUM)
        reduced = _core.Totals.from_sums(*sums[:6], int(round(sums[6])), totals.batches)
        if not totals.finite:
            reduced += _core.Totals.stopped_at(totals.bad_batch)
        if totals.overflowed:
            reduced += _core.Totals.overflow()
        return reduced

    def evaluate(self, engine, samples) -> "_core.Totals":
        """Evaluation sums over `samples`, each rank evaluating a contiguous shard of them."""
        offset, rows, _ = _core.batch_shard(np.arange(len(samples), dtype=np.int64), None, self.rank, self.size)
        totals = engine.evaluate(samples.rows(slice(offset, offset + rows))) if rows else _core.Totals()
        return self.reduce(totals)


def data_facts(model, data, val, options, engine_kind: str) -> dict:
    """What must agree across ranks before a distributed fit starts: shapes, settings, and a checksum of
    the first and last samples (cheap; catches ranks given different files or orders)."""
    ends = [data.x[0], data.x[-1]] + ([data.y[0], data.y[-1]] if data.y is not None else
                                        [data.labels[:1], data.labels[-1:]])
    if data.weights is not None:
        ends.append(data.weights[[0, -1]])
    checksum = 0
    for arr in ends:
        checksum = zlib.crc32(np.ascontiguousarray(arr).tobytes(), checksum)
    return {"rows": len(data), "columns": data.x.shape[1], "dtype": str(data.x.dtype),
            "validation rows": 0 if val is None else len(val), "sample_weight": data.weights is not None,
            "first/last samples (crc32)": checksum, "parameters": model.flat_parameter.data.size,
            "loss": model.loss.name, "optimizer": type(model.optimizer).__name__, "engine": engine_kind,
            "batch_size": options.batch_size, "epochs": options.epochs, "initial_epoch": options.initial_epoch,
            "shuffle": options.shuffle}
