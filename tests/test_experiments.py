"""The classic experiments: each small run writes a valid PNG and a table whose values make sense."""
import csv
import math
import statistics
import sys

import pytest

pytest.importorskip("matplotlib", reason="the experiments draw with matplotlib (the plot extra)")

import denso.datasets
from denso.experiments import EXPERIMENTS, _report

NAMES = ["batch-size", "optimizers", "vanishing-gradients", "universal-approximation", "regularization", "lr-decay"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Each experiment's small run, once per test module: name -> (result dict, table rows)."""
    cache = {}

    def get(name):
        if name not in cache:
            result = EXPERIMENTS[name](str(tmp_path_factory.mktemp(name.replace("-", "_"))), small=True, seed=0)
            with open(result["csv"], newline="") as f:
                cache[name] = (result, list(csv.DictReader(f)))
        return cache[name]

    return get


def number(row, key):
    return float(row[key]) if row[key] != "" else math.nan


def test_registry_names():
    assert list(EXPERIMENTS) == NAMES
    assert all(callable(run) for run in EXPERIMENTS.values())


@pytest.mark.parametrize("name", NAMES)
def test_small_run_writes_png_and_tables(results, name):
    result, rows = results(name)
    assert set(result) == {"png", "csv", "markdown", "summary"}
    with open(result["png"], "rb") as f:
        png = f.read()
    assert png[:8] == PNG_MAGIC and len(png) > 1024
    assert rows, "the CSV has no rows"
    with open(result["markdown"]) as f:
        markdown = f.read()
    header = "| " + " | ".join(rows[0]) + " |"
    assert header in markdown
    assert markdown.count("\n| ") >= len(rows) + 1
    assert isinstance(result["summary"], str) and 20 < len(result["summary"]) < 600
    assert result["summary"] in markdown


def test_vanishing_gradients_sigmoid_vanishes_relu_he_does_not(results):
    _, rows = results("vanishing-gradients")
    by_net = {}
    for row in rows:
        by_net.setdefault(row["network"], []).append(number(row, "grad_norm_init"))
    sigmoid, relu = by_net["sigmoid, Glorot"], by_net["ReLU, He"]
    assert sigmoid[0] < 1e-3 * sigmoid[-1]          # layer 1 gets a vanishing share
    assert all(a < b for a, b in zip(sigmoid, sigmoid[1:]))  # shrinking at every layer on the way back
    assert max(relu) < 10 * min(relu)               # ReLU + He: within an order of magnitude


def test_optimizers_momentum_and_adam_beat_gradient_descent_on_raw_feature(results):
    _, rows = results("optimizers")
    raw = {r["optimizer"]: number(r, "final_loss") for r in rows if r["features"] == "unnormalised"}
    assert raw["Adam"] < raw["gradient descent"]
    assert raw["momentum 0.9"] < raw["gradient descent"]
    excess = {r["optimizer"]: number(r, "excess_loss") for r in rows}
    gd_raw = next(number(r, "excess_loss") for r in rows
                  if r["features"] == "unnormalised" and r["optimizer"] == "gradient descent")
    gd_norm = next(number(r, "excess_loss") for r in rows
                   if r["features"] == "normalised" and r["optimizer"] == "gradient descent")
    assert gd_norm < 1e-3 * gd_raw                  # standardising the feature fixes gradient descent
    assert all(v > -1e-9 for v in excess.values())  # nobody beats least squares


def test_universal_approximation_error_falls_with_width(results):
    _, rows = results("universal-approximation")
    for depth in ("1", "2"):
        errors = [number(r, "test_mse") for r in rows if r["hidden_layers"] == depth]
        assert len(errors) >= 3
        assert errors[1] < errors[0]
        assert min(errors[2:]) < 0.1 * errors[0]
        assert all(abs(number(r, "train_mse") - number(r, "test_mse")) < 0.05
                   for r in rows if r["hidden_layers"] == depth)  # noise-free: no generalisation gap


def test_regularization_beats_overfitting(results):
    _, rows = results("regularization")
    by = {r["method"]: r for r in rows}
    none = by["none"]
    assert number(none, "final_train_loss") < number(none, "final_test_loss")          # it overfits
    assert number(none, "best_test_loss") < number(none, "final_test_loss")            # test loss rose
    for method in ("L2", "dropout"):
        assert number(by[method], "final_test_loss") < number(none, "final_test_loss")
    assert int(by["early stopping"]["epochs_run"]) < int(none["epochs_run"])


DECAYS = ("inverse-time", "step", "cosine")


def test_lr_decay_schedules_decay(results):
    _, rows = results("lr-decay")
    by = {r["schedule"]: r for r in rows}
    assert list(by) == ["constant", *DECAYS]
    assert number(by["constant"], "final_lr") == pytest.approx(0.1)
    assert all(number(by[s], "final_lr") < 0.05 for s in DECAYS)
    for r in rows:
        assert all(math.isfinite(number(r, key)) for key in ("final_train_loss", "final_test_loss", "best_test_loss"))


def lr_decay_gains(out_dir, small, seeds):
    """{"final_test_loss": [...], "final_train_loss": [...]}: per seed, the constant rate's loss
    over the best decay schedule's (> 1: decaying the rate helped)."""
    gains = {"final_test_loss": [], "final_train_loss": []}
    for seed in seeds:
        result = EXPERIMENTS["lr-decay"](str(out_dir / f"seed{seed}"), small=small, seed=seed)
        with open(result["csv"], newline="") as f:
            by = {r["schedule"]: r for r in csv.DictReader(f)}
        for key, values in gains.items():
            values.append(number(by["constant"], key) / min(number(by[s], key) for s in DECAYS))
    return gains


# Which schedule ends lowest is a training outcome: stated over seeds, with a margin, under `slow`.
# Measured (final test loss, constant / best decay schedule, which was cosine in every run):
#   Fashion-MNIST, full run (20000 samples, 30 epochs), seeds 0-4: 1.137 1.128 1.175 1.148 1.178
#   Fashion-MNIST, small run, seeds 0-9: 1.214 0.983 1.099 1.245 1.284 1.090 1.027 1.377 1.110 1.049
#     (decay wins on the median, not at every seed: too noisy to assert per seed)
#   synthetic mixture, small run, seeds 0-9: 0.871-0.932, median 0.906; training loss 0.42-0.45
#   synthetic mixture, full run, seeds 0-9: 0.937-0.973 (the constant rate wins everywhere)
# The synthetic problem is easy (99% test accuracy at full size): SGD noise at lr 0.1 does not limit
# the loss within the run, so decaying the rate only slows the descent. Decay helps on Fashion-MNIST.
@pytest.mark.slow
@pytest.mark.skipif(denso.datasets.fashion_mnist_dir() is None,
                    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_lr_decay_beats_the_constant_rate_on_fashion_mnist(tmp_path):
    gains = lr_decay_gains(tmp_path, small=False, seeds=range(3))["final_test_loss"]
    assert all(g > 1.05 for g in gains), gains                      # measured: >= 1.128 at seeds 0-4


@pytest.mark.slow
def test_lr_decay_does_not_help_on_the_synthetic_mixture(tmp_path, monkeypatch):
    monkeypatch.setattr(denso.datasets, "fashion_mnist_dir", lambda path=None: None)
    gains = lr_decay_gains(tmp_path, small=True, seeds=range(5))
    test_gains, train_gains = gains["final_test_loss"], gains["final_train_loss"]
    assert all(g < 1.0 for g in test_gains), test_gains             # measured: <= 0.932 at seeds 0-9
    assert statistics.median(test_gains) < 0.95, test_gains         # measured: 0.908 at seeds 0-4
    assert all(g < 0.67 for g in train_gains), train_gains          # measured: <= 0.45 at seeds 0-9


def test_batch_size_table(results):
    _, rows = results("batch-size")
    sizes = [int(r["batch_size"]) for r in rows]
    assert sizes[0] == 1 and sizes == sorted(sizes)
    for r in rows:
        assert int(r["updates"]) == int(r["epochs"]) * int(r["updates_per_epoch"])
        assert number(r, "samples_per_s") > 0 and number(r, "seconds") > 0
    assert [int(r["updates_per_epoch"]) for r in rows] == sorted((int(r["updates_per_epoch"]) for r in rows),
                                                                  reverse=True)
    assert int(rows[-1]["updates_per_epoch"]) == 1                                   # full batch
    reached = [r for r in rows if r["reached_target"] == "True"]
    assert reached and all(number(r, "test_accuracy") > 0.6 for r in reached)
    assert int(rows[-1]["epochs"]) > int(rows[0]["epochs"])  # full batch needs more passes than SGD


def test_runs_are_reproducible(tmp_path):
    tables = []
    for sub in ("a", "b"):
        result = EXPERIMENTS["vanishing-gradients"](str(tmp_path / sub), small=True, seed=3)
        with open(result["csv"], newline="") as f:
            tables.append(list(csv.DictReader(f)))
    first, second = tables
    assert len(first) == len(second)
    for a, b in zip(first, second):  # same seed, same numbers (float32 GEMMs may round differently)
        assert a["network"] == b["network"] and a["layer"] == b["layer"]
        for key in ("grad_norm_init", "grad_norm_first_epoch_mean", "grad_norm_end_of_epoch"):
            assert number(a, key) == pytest.approx(number(b, key), rel=1e-4)


def test_missing_matplotlib_names_the_plot_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ImportError, match="plot"):
        _report.require_matplotlib()
