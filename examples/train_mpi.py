"""Data-parallel training on several processes (MPI): every rank runs this same script.

    pip install '.[mpi]'
    mpiexec -n 2 python -m mpi4py examples/train_mpi.py

Each rank builds the same data (here the two-spirals problem; with real data, every rank loads the
same file, e.g. as a memory map), trains its shard of every batch of 64 and sums gradients with the
other ranks after each step. The result does not depend on the number of ranks. Only rank 0 prints
and saves. `python -m mpi4py` makes an exception on one rank abort all of them instead of leaving
the others waiting.
"""
from __future__ import annotations

import sys

import denso
from denso import Dense, Dropout, Sequential
from denso.synthetic import two_spirals


def main(out: str = "spirals-mpi.npz") -> None:
    rank, ranks = denso.distributed.rank(), denso.distributed.size()
    x, y = two_spirals(2000, noise=0.2, seed=0)
    model = Sequential([Dense(64, activation="relu"), Dropout(0.1), Dense(64, activation="relu"), Dense(2)],
                       input_dim=2, seed=0)
    model.compile(optimizer=denso.optim.Adam(lr=0.01), loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=40, batch_size=64, seed=0, validation_split=0.2, verbose=2,
                        distributed=True)  # batch_size: the global batch, split across the ranks
    if rank == 0:
        print(f"{ranks} rank(s): final loss {history.history['loss'][-1]:.4f}, "
              f"validation accuracy {history.history['val_accuracy'][-1]:.3f}")
        model.save(out)
        print(f"saved {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
