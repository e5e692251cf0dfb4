"""History.plot / denso.plotting: curves per metric, train against validation, PNG output."""
import sys

import numpy as np
import pytest

import denso
from denso import Dense, Sequential
from denso.callbacks import History
from denso.plotting import INSTALL_HINT, history_panels, plot_history

pytest.importorskip("matplotlib", reason="matplotlib is the 'plot' extra (pip install 'denso[plot]')")


def _history(record):
    h = History()
    h.on_train_begin()
    for epoch in range(len(next(iter(record.values())))):
        h.on_epoch_end(epoch, {k: v[epoch] for k, v in record.items()})
    return h


RECORD = {"loss": [0.9, 0.5, 0.3], "accuracy": [0.6, 0.8, 0.9], "val_loss": [1.0, 0.7, 0.6],
          "val_accuracy": [0.55, 0.7, 0.75]}


def _lines(ax):
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()}


def test_history_plot_draws_train_and_validation_per_metric(tmp_path):
    fig = _history(RECORD).plot(tmp_path / "curves.png", title="run 1")
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy"]
    assert _lines(axes[0]) == {"train": ([1, 2, 3], [0.9, 0.5, 0.3]), "validation": ([1, 2, 3], [1.0, 0.7, 0.6])}
    assert _lines(axes[1])["validation"] == ([1, 2, 3], [0.55, 0.7, 0.75])
    assert axes[0].get_xlabel() == "epoch" and fig._suptitle.get_text() == "run 1"
    data = (tmp_path / "curves.png").read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]  # no temporary file left


def test_plot_of_a_real_fit_and_of_a_plain_dict(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)
    model = Sequential([Dense(8, activation="tanh"), Dense(1)], input_dim=3, seed=0)
    model.compile(denso.optim.get("adam", lr=1e-2), "mse", ["mae"])
    history = model.fit(x, y, epochs=4, batch_size=16, validation_split=0.25, verbose=0)
    fig = history.plot(tmp_path / "fit.png", log_loss=True)
    loss_ax, mae_ax = fig.get_axes()
    assert _lines(loss_ax)["validation"][1] == history.history["val_loss"]
    assert loss_ax.get_yscale() == "log" and mae_ax.get_yscale() == "linear"
    fig = plot_history({"loss": [3.0, 2.0], "lr": [0.1, 0.05]})  # a dict works; lr gets a log axis
    assert [ax.get_title() for ax in fig.get_axes()] == ["loss", "lr"]
    assert fig.get_axes()[1].get_yscale() == "log"


def test_plot_other_formats_by_extension(tmp_path):
    _history(RECORD).plot(tmp_path / "curves.svg")
    assert b"<svg" in (tmp_path / "curves.svg").read_bytes()[:1000]


def test_metrics_selects_panels_and_unknown_names_are_errors():
    fig = _history(RECORD).plot(metrics="accuracy")
    assert [ax.get_title() for ax in fig.get_axes()] == ["accuracy"]
    with pytest.raises(ValueError, match=r"no recorded values for \['auc'\]; the history has \['loss', 'accuracy'\]"):
        _history(RECORD).plot(metrics=["auc"])


def test_panels_put_loss_first_and_keep_validation_only_metrics():
    panels = history_panels({"accuracy": [1], "lr": [1], "loss": [1], "val_loss": [2], "val_auc": [3]})
    assert [(name, val) for name, _, val in panels] == [("loss", [2]), ("accuracy", None), ("auc", [3]), ("lr", None)]


def test_empty_history_is_an_error():
    with pytest.raises(ValueError, match="the history is empty"):
        History().plot()
    with pytest.raises(ValueError, match="the history is empty"):
        plot_history({"loss": []})


def test_plotting_neither_imports_pyplot_nor_switches_the_backend():
    import matplotlib
    had_pyplot = "matplotlib.pyplot" in sys.modules
    backend = dict.__getitem__(matplotlib.rcParams, "backend")  # raw: get_backend() would resolve it via pyplot
    _history(RECORD).plot()
    assert dict.__getitem__(matplotlib.rcParams, "backend") is backend
    assert had_pyplot or "matplotlib.pyplot" not in sys.modules


def test_without_matplotlib_the_error_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install 'denso\[plot\]'") as info:
        _history(RECORD).plot(tmp_path / "x.png")
    assert str(info.value) == INSTALL_HINT
    assert not (tmp_path / "x.png").exists()
