#!/usr/bin/env python
"""denso.sklearn against scikit-learn's own MLP: the same estimator configuration, only the import
swapped, on digits, breast_cancer, wine, diabetes (and Fashion-MNIST where it is installed).

For each dataset and each of 5 seeds: a 75/25 split (`train_test_split(random_state=seed)`), features
standardised on the training part (Fashion-MNIST: pixels in [0, 1] as loaded), both estimators
built with `random_state=seed`, one thread each (denso `n_threads=1`, numpy's BLAS limited to one
thread). Reports the test score (accuracy, R² for diabetes) as mean ± std over the seeds and the
median wall time of `fit`. The two estimators run alternately (seed by seed, who goes first
rotating). Prints the machine (CPU model, SIMD level) and a markdown table.

    python benchmarks/vs_sklearn.py            # the full run (Fashion-MNIST takes most of it)
    python benchmarks/vs_sklearn.py --quick    # tiny sizes: checks that it runs
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing as T  # noqa: E402

T.pin_blas_env(1)

import numpy as np  # noqa: E402

DATASETS = ("digits", "breast_cancer", "wine", "diabetes", "fashion_mnist")


def load(name: str, quick: bool):
    """(X, y, is_classification, estimator parameters) or None when the data is not installed."""
    from sklearn import datasets
    params = dict(hidden_layer_sizes=(100,), max_iter=3 if quick else 200)
    if name == "fashion_mnist":
        T.import_denso()
        from denso.datasets import load_fashion_mnist
        try:
            (x, y), _ = load_fashion_mnist(download=False)
        except (OSError, ValueError, RuntimeError):
            return None
        rows = 600 if quick else 20000
        params = dict(hidden_layer_sizes=(256, 128), max_iter=2 if quick else 10)
        return x[:rows].astype(np.float64), y[:rows], True, params
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    if quick:
        X, y = X[:120], y[:120]
    if name == "diabetes":
        y = (y - y.mean()) / y.std()
    return X, y, name != "diabetes", params


def split(X, y, seed: int, scale: bool):
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=seed)
    if scale:
        scaler = StandardScaler().fit(X_tr)
        X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    return X_tr, X_te, y_tr, y_te


def run_dataset(name: str, seeds: int, quick: bool):
    """{library: (scores, fit seconds)} for one dataset, or None when it is not installed."""
    loaded = load(name, quick)
    if loaded is None:
        return None
    X, y, classify, params = loaded
    import denso.sklearn as ours
    from sklearn import neural_network as theirs
    kind = "MLPClassifier" if classify else "MLPRegressor"
    makers = {"scikit-learn": lambda s: getattr(theirs, kind)(random_state=s, **params),
              "denso": lambda s: getattr(ours, kind)(random_state=s, n_threads=1, **params)}
    results = {lib: ([], []) for lib in makers}
    for seed in range(seeds):
        X_tr, X_te, y_tr, y_te = split(X, y, seed, scale=name != "fashion_mnist")
        order = list(makers) if seed % 2 == 0 else list(makers)[::-1]
        for lib in order:
            est = makers[lib](seed)
            with T.blas_threads(1), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                started = time.perf_counter()
                est.fit(X_tr, y_tr)
                results[lib][1].append(time.perf_counter() - started)
            results[lib][0].append(est.score(X_te, y_te))
    return len(X_tr), "accuracy" if classify else "R²", results


def mean_std(values) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {std:.4f}"


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 2 seeds: checks that it runs")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per dataset (default 5; 2 with --quick)")
    args = parser.parse_args(argv)
    seeds = args.seeds or (2 if args.quick else 5)
    denso = T.import_denso()
    denso.set_num_threads(1)
    info = T.machine_info()
    import sklearn
    print(T.header("denso.sklearn vs scikit-learn's MLP (1 thread)", info))
    print(f"scikit-learn {sklearn.__version__}; {seeds} seeds; score = test accuracy (R² for diabetes), "
          "mean ± std over seeds; fit = median seconds\n")
    rows, missing = [], []
    for name in DATASETS:
        result = run_dataset(name, seeds, args.quick)
        if result is None:
            missing.append(name)
            continue
        n_train, metric, res = result
        sk_time, de_time = statistics.median(res["scikit-learn"][1]), statistics.median(res["denso"][1])
        rows.append([name, f"{n_train:,}", metric, mean_std(res["scikit-learn"][0]), mean_std(res["denso"][0]),
                     T.fmt(sk_time), T.fmt(de_time), f"{sk_time / de_time:.1f}×"])
    table = T.markdown_table(["dataset", "train rows", "metric", "scikit-learn score", "denso score",
                              "scikit-learn fit s", "denso fit s", "fit speedup"], rows)
    print(table)
    if missing:
        print(f"\nnot installed (skipped): {', '.join(missing)} — see README, 'Where datasets are found'")
    return table


if __name__ == "__main__":
    main()
