"""Distributed fits with faults or side effects, run by tests/test_distributed.py under mpiexec:
`python -m mpi4py tests/mpi_faults.py MODE [DIR]`. Every rank prints lines starting with its rank.

  raise       rank 1 raises in a callback at the end of epoch 1 while rank 0 goes on into epoch 2
  rows        rank 1 passes one row fewer than rank 0
  diverge     one sample makes its rank's loss infinite: every rank must stop at the same batch
  checkpoint  every rank passes ModelCheckpoint("DIR/rank<r>-epoch{epoch}.npz") and EarlyStopping
  broadcast   every rank starts from its own weights, Adam state and step count (see pretrained)
"""
from __future__ import annotations

import os
import sys

import numpy as np

import denso
from denso import Dense, EarlyStopping, LambdaCallback, ModelCheckpoint, Sequential


def problem(rows: int = 64):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(rows, 4))
    y = rng.normal(size=(rows, 1))
    model = Sequential([Dense(8), Dense(1)], input_dim=4, seed=3, dtype="float64")
    model.compile(optimizer=denso.optim.SGD(lr=0.01), loss="mse")
    return model, x, y


def main(mode: str) -> None:
    rank = denso.distributed.rank()
    model, x, y = problem()
    if mode == "raise":
        def fail(epoch, logs):
            if rank == 1 and epoch == 1:
                raise RuntimeError("rank 1 fails on purpose at the end of epoch 2")
        model.fit(x, y, epochs=50, batch_size=8, verbose=0, distributed=True,
                  callbacks=[LambdaCallback(on_epoch_end=fail)])
    elif mode == "rows":
        try:
            model.fit(x[:-1] if rank == 1 else x, y[:-1] if rank == 1 else y, epochs=1, batch_size=8, verbose=0,
                      distributed=True)
        except ValueError as err:
            say(f"{rank} ValueError: {err}")
            sys.exit(3)
    elif mode == "diverge":
        steps, message, params = diverging_fit(distributed=True)
        everywhere = denso.distributed.mpi().COMM_WORLD.allgather(params.tobytes())
        say(f"{rank} steps={steps} finite={np.isfinite(params).all()} "
            f"same_on_all_ranks={all(w == params.tobytes() for w in everywhere)} {message}")
    elif mode == "broadcast":
        model, x, y = pretrained(rank)
        model.fit(x, y, epochs=2, batch_size=8, verbose=0, seed=5, distributed=True)
        say(f"{rank} steps={model.steps_trained} params={model.flat_parameter.data.tolist()!r}")
    elif mode == "checkpoint":
        stop = EarlyStopping(monitor="loss", patience=0, min_delta=1e9)  # stops after the second epoch
        history = model.fit(x, y, epochs=5, batch_size=8, verbose=0, distributed=True,
                            callbacks=[ModelCheckpoint(os.path.join(sys.argv[2], f"rank{rank}-epoch{{epoch}}.npz")), stop])
        say(f"{rank} epochs={len(history.history['loss'])} stopped_epoch={stop.stopped_epoch}")
    say(f"{rank} finished")


def pretrained(rank: int):
    """A model whose weights, Adam moments and step count depend on `rank`: seeded by it and trained
    alone for 1 + rank epochs."""
    _, x, y = problem()
    model = Sequential([Dense(8, activation="tanh"), Dense(1)], input_dim=4, seed=100 + rank, dtype="float64")
    model.compile(optimizer=denso.optim.Adam(lr=0.01), loss="mse")
    model.fit(x, y, epochs=1 + rank, batch_size=8, verbose=0, seed=rank)
    return model, x, y


def say(line: str) -> None:
    """One line in one write, so the launcher does not interleave the ranks' lines."""
    sys.stdout.flush()
    os.write(1, (line + "\n").encode())


def diverging_fit(distributed: bool) -> tuple:
    """(steps trained, TrainingDiverged message, final weights) of a fit in which one sample (finite,
    1e300) makes the loss of the batch holding it infinite, so a single rank's shard sees it."""
    model, x, y = problem()
    x[37, :] = 1e300
    try:
        model.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=1, distributed=distributed)
    except denso.TrainingDiverged as err:
        return model.steps_trained, str(err), model.flat_parameter.data.copy()
    raise AssertionError("the fit did not diverge")


if __name__ == "__main__":
    main(sys.argv[1])
