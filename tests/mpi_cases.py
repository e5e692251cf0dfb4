"""The training runs the MPI tests compare (tests/test_distributed.py), and the script each rank runs.

As a module: `CASES` and `train(case, distributed)`, which the test process calls for the
single-process reference. As a script, under `mpiexec -n K python -m mpi4py tests/mpi_cases.py OUT`:
every rank trains every case with fit(distributed=True); rank 0 writes OUT (an .npz) with each case's
parameters and History, and whether every rank ended with bit-identical parameters and History.
"""
from __future__ import annotations

import sys

import numpy as np

import denso
from denso import Dense, Dropout, GaussianNoise, Sequential

# 194 rows, global batch 32: the last batch has 2 rows, so with 3 ranks one rank trains none.
ROWS, FEATURES, CLASSES, BATCH, EPOCHS = 194, 7, 3, 32, 3

CASES = {
    # name: (dtype, optimizer, regularisation layers, sample weights, engine); every case trains the
    # 3-class labels with categorical cross-entropy, except the REGRESSION ones (huber on one-hot rows)
    "float64-sgd": ("float64", "sgd", False, False, "plan"),
    "float32-sgd": ("float32", "sgd", False, False, "plan"),
    "float64-dropout-noise": ("float64", "sgd", True, False, "plan"),
    "float32-dropout-noise": ("float32", "sgd", True, False, "plan"),
    "float64-weighted": ("float64", "sgd", True, True, "plan"),
    "float32-weighted": ("float32", "sgd", True, True, "plan"),
    "float64-graph": ("float64", "sgd", True, True, "graph"),
    "float64-adam": ("float64", "adam", True, False, "plan"),
    "float32-adam": ("float32", "adam", True, False, "plan"),
    "float64-huber": ("float64", "adam", True, True, "plan"),
}


REGRESSION = {"float64-huber"}  # metrics mse and mae: error sums reduced over the ranks


def data(dtype):
    """A fixed 3-class problem (every rank and the reference build the same arrays)."""
    rng = np.random.default_rng(1234)
    x = rng.normal(size=(ROWS, FEATURES)).astype(dtype)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 0.8)
    weights = rng.uniform(0.0, 3.0, size=ROWS).astype(dtype)
    weights[::7] = 0.0  # zero-weight rows, and a shard whose weights may all be zero
    return x, y, weights


def build(case: str) -> Sequential:
    dtype, optimizer, regularised, _, _ = CASES[case]
    layers = [Dense(16, activation="relu", l2=1e-3)]
    if regularised:
        layers += [Dropout(0.25), GaussianNoise(0.1)]
    layers += [Dense(8, activation="tanh", l1=1e-4), Dense(CLASSES)]
    model = Sequential(layers, input_dim=FEATURES, seed=7, dtype=dtype)
    opt = denso.optim.SGD(lr=0.05, momentum=0.9) if optimizer == "sgd" else denso.optim.Adam(lr=0.01)
    if case in REGRESSION:
        model.compile(optimizer=opt, loss="huber", metrics=["mse", "mae"])
    else:
        model.compile(optimizer=opt, loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def train(case: str, distributed: bool) -> tuple:
    """(final flat parameters, History.history) of `case`, 3 epochs with 10% validation."""
    dtype, _, _, weighted, engine = CASES[case]
    x, y, w = data(dtype)
    if case in REGRESSION:
        y = np.eye(CLASSES, dtype=dtype)[y]
    model = build(case)
    history = model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, seed=99, verbose=0, validation_split=0.1,
                        engine=engine, sample_weight=w if weighted else None, distributed=distributed)
    return model.flat_parameter.data.copy(), history.history


def main(out: str) -> None:
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    results = {}
    for case in CASES:
        params, history = train(case, distributed=True)
        everywhere = comm.allgather((params.tobytes(), sorted(history.items())))
        results[case + "/params"] = params
        results[case + "/same_on_all_ranks"] = np.array(all(e == everywhere[0] for e in everywhere))
        for key, values in history.items():
            results[case + "/history/" + key] = np.asarray(values)
    if comm.Get_rank() == 0:
        np.savez(out, **results)


if __name__ == "__main__":
    main(sys.argv[1])
