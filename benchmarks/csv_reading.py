#!/usr/bin/env python
"""denso's CSV loader against np.loadtxt and pandas on an MNIST-sized table, side by side in one run.

Writes two 60,000 × 785 tables to a temporary directory — integers 0..255 (MNIST as CSV) and the same
values as fractions with 4 decimals — then times, interleaved, median of 3: `read_table` as installed
(pandas' C reader for big files when pandas is installed), `read_table` with np.loadtxt only,
`np.loadtxt(dtype=float)` and `pandas.read_csv` alone. Prints the machine (CPU model, SIMD level).

    python benchmarks/csv_reading.py            # the full run (~2 minutes)
    python benchmarks/csv_reading.py --quick    # 600 rows: checks that it runs
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing as T  # noqa: E402

import numpy as np  # noqa: E402


def write_tables(folder: str, rows: int) -> dict:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (rows, 785))
    paths = {"integers": os.path.join(folder, "ints.csv"), "fractions": os.path.join(folder, "fractions.csv")}
    header = ",".join(f"p{i}" for i in range(784)) + ",label"
    np.savetxt(paths["integers"], pixels, fmt="%d", delimiter=",", header=header, comments="")
    np.savetxt(paths["fractions"], pixels / 255.0, fmt="%.4f", delimiter=",", header=header, comments="")
    return paths


def discard(fn):
    """fn without its result: interleaved() then records the wall time of the call."""
    def run():
        fn()
    return run


def readers(path: str, pandas) -> dict:
    from denso.datasets import read_table, tables

    def loader(min_bytes):
        def run():
            saved, tables.PANDAS_MIN_BYTES = tables.PANDAS_MIN_BYTES, min_bytes
            try:
                read_table(path)
            finally:
                tables.PANDAS_MIN_BYTES = saved
        return run
    cases = {"read_table": loader(0 if pandas is not None else 1 << 62),
             "read_table (np.loadtxt only)": loader(1 << 62),
             "np.loadtxt(dtype=float)": discard(lambda: np.loadtxt(path, delimiter=",", skiprows=1))}
    if pandas is not None:
        cases["pandas.read_csv"] = discard(lambda: pandas.read_csv(path).to_numpy())
    return cases


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="600 rows, one repeat: checks that it runs")
    args = parser.parse_args(argv)
    T.import_denso()
    try:
        import pandas
    except ImportError:
        pandas = None
    print(T.header("CSV reading: denso's loader, np.loadtxt, pandas", T.machine_info()))
    print(f"pandas {pandas.__version__ if pandas else 'not installed'}; median seconds of "
          f"{1 if args.quick else 3} interleaved repeats\n")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for kind, path in write_tables(folder, 600 if args.quick else 60_000).items():
            size = os.path.getsize(path) / 1e6
            times = T.interleaved(readers(path, pandas), 1 if args.quick else 3, warmup=0)
            rows += [[kind, f"{size:.0f} MB", name, T.fmt(T.field_median(v, "wall"))] for name, v in times.items()]
    out = T.markdown_table(["table", "size", "reader", "seconds"], rows)
    print(out)
    return out


if __name__ == "__main__":
    main()
