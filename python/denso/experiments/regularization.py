"""Regularisation against overfitting: none, L2, L1, dropout and early stopping.

A network far larger than its data (2-256-256-1 on 100 noisy two-moons points, the classes
overlapping) drives its training loss down while its test loss, after a minimum early on, climbs
and its test accuracy falls: it memorises the noise.
Each method trains the same network from the same initial weights; the curves are the
cross-entropy without penalty terms, in inference mode, on the training and the test data.
Early stopping watches the loss on a separate validation set (100 points), ignoring the first
epochs (the optimizer's initial transient), and restores the weights of its best epoch.
"""
from __future__ import annotations

import numpy as np

from .. import Dense, Dropout, EarlyStopping, Sequential, optim
from ..callbacks import Callback
from . import _report, _runner

NAME = "regularization"
QUESTION = ("Which regularisation (L2, L1, dropout, early stopping) stops a network too large for its data "
            "from memorising the noise?")
# noise 0.45: the moons overlap, so memorising the training points costs test accuracy too, not only
# test loss (at 0.35 every method's accuracy stayed within 1-2 points of the others').
FULL = {"hidden": 256, "epochs": 400, "lr": 1e-3, "l2": 3e-3, "l1": 3e-4, "dropout": 0.5, "patience": 30,
        "warmup": 10, "grid": 160, "noise": 0.45}
# The small run trains long enough (150 epochs at a larger rate) for the unregularised network to overfit.
SMALL = {"hidden": 128, "epochs": 150, "lr": 5e-3, "l2": 3e-3, "l1": 3e-4, "dropout": 0.5, "patience": 30,
         "warmup": 10, "grid": 60, "noise": 0.45}
CAPTION = ("Top left: the cross-entropy after each epoch, test (solid) and training (dotted), log scale: without "
           "regularisation the training loss keeps falling while the test loss turns and climbs; the regularised "
           "test curves stay low. The other panels: each method's decision boundary (black, P = 0.5) over the "
           "predicted probability, with the 100 training points: look at how the unregularised boundary bends "
           "around single points.")
METHODS = ("none", "L2", "L1", "dropout", "early stopping")


def two_moons(n: int, seed: int, noise: float = 0.35):
    """(x (n, 2), y (n,) in {0, 1}): two interleaved half circles plus N(0, noise²) noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    t = rng.uniform(0.0, np.pi, size=n)
    upper = np.c_[np.cos(t), np.sin(t)]
    lower = np.c_[1.0 - np.cos(t), 0.5 - np.sin(t)]
    x = np.where(y[:, None] == 0, upper, lower) + rng.normal(0.0, noise, size=(n, 2))
    return x, y.astype(np.float64)


def cross_entropy(model, x, y) -> float:
    """Binary cross-entropy of the model's probabilities (inference mode, no penalty terms)."""
    p = np.clip(model.predict(x).ravel(), 1e-15, 1.0 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))


class _Curves(Callback):
    """Records the training and test cross-entropy after every epoch."""

    def __init__(self, train, test):
        super().__init__()
        self.train, self.test = train, test
        self.rows = []

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.rows.append((cross_entropy(self.model, *self.train), cross_entropy(self.model, *self.test)))


def build(method: str, cfg: dict, seed: int) -> Sequential:
    """The 2-h-h-1 ReLU network with the regularisation of `method`."""
    penalty = {"L2": {"l2": cfg["l2"]}, "L1": {"l1": cfg["l1"]}}.get(method, {})
    layers = []
    for _ in range(2):
        layers.append(Dense(cfg["hidden"], activation="relu", kernel_initializer="he_normal", **penalty))
        if method == "dropout":
            layers.append(Dropout(cfg["dropout"]))
    model = Sequential(layers + [Dense(1, **penalty)], input_dim=2, seed=seed, dtype="float64")
    model.compile(optim.Adam(lr=cfg["lr"]), "binary_crossentropy", ["accuracy"])
    return model


def train(method, data, cfg, seed):
    """Train one method; returns (model, curves (epochs, 2), table row)."""
    (x, y), val, test = data
    model = build(method, cfg, seed)
    curves = _Curves((x, y), test)
    callbacks = [curves]
    if method == "early stopping":
        callbacks.append(EarlyStopping(monitor="val_loss", patience=cfg["patience"], restore_best_weights=True,
                                       start_from_epoch=cfg["warmup"]))
    model.fit(x, y, epochs=cfg["epochs"], batch_size=32, validation_data=val, callbacks=callbacks, verbose=0,
              seed=seed)
    c = np.array(curves.rows)
    row = {"method": method, "setting": _setting(method, cfg), "epochs_run": len(c),
           "final_train_loss": cross_entropy(model, x, y), "final_test_loss": cross_entropy(model, *test),
           "best_test_loss": float(c[:, 1].min()), "best_test_epoch": int(c[:, 1].argmin()) + 1,
           "test_accuracy": float(np.mean((model.predict(test[0]).ravel() > 0.5) == test[1]))}
    return model, c, row


def _setting(method, cfg) -> str:
    return {"none": "—", "L2": f"l2={cfg['l2']:g} per layer", "L1": f"l1={cfg['l1']:g} per layer",
            "dropout": f"rate {cfg['dropout']:g} after each hidden layer",
            "early stopping": f"val_loss, patience {cfg['patience']}, ignores the first {cfg['warmup']} "
                              "epochs, restores the best"}[method]


def _plot(results, data, cfg):
    fig, axes = _report.new_figure(3, 2, width=4.0, height=3.3)
    _plot_curves(axes[0], results)
    (x, y), _, _ = data
    lo, hi = x.min(axis=0) - 0.5, x.max(axis=0) + 0.5
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], cfg["grid"]), np.linspace(lo[1], hi[1], cfg["grid"]))
    grid = np.c_[g0.ravel(), g1.ravel()]
    for ax, (method, (model, _, row)) in zip(axes[1:], results.items()):
        p = model.predict(grid).reshape(g0.shape)
        shading = ax.contourf(g0, g1, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.5)
        ax.contour(g0, g1, p, levels=[0.5], colors="k", linewidths=1.0)
        ax.scatter(x[:, 0], x[:, 1], c=y, cmap="RdBu_r", vmin=0, vmax=1, s=9, edgecolors="k", linewidths=0.3)
        ax.set(title=f"{method}\ntest loss {row['final_test_loss']:.2f} · accuracy {100 * row['test_accuracy']:.1f}%",
               xlabel="x₁", ylabel="x₂")
    key = fig.colorbar(shading, ax=[axes[2], axes[5]], shrink=0.8)  # one key: every map shares the levels
    key.set_label("predicted P(class 1); points: training data, blue 0, red 1")
    return fig


def _plot_curves(ax, results) -> None:
    """Test (solid) and training (dotted) loss per epoch; the legend names the methods and both line kinds."""
    from matplotlib.lines import Line2D
    handles = []
    for i, (method, (_, curves, _)) in enumerate(results.items()):
        epochs = np.arange(1, len(curves) + 1)
        handles += ax.plot(epochs, curves[:, 1], color=f"C{i}", label=method)
        ax.plot(epochs, curves[:, 0], color=f"C{i}", ls=":", lw=1.0)
    handles += [Line2D([], [], color="k", label="test loss (solid)"),
                Line2D([], [], color="k", ls=":", lw=1.0, label="training loss (dotted)")]
    low, high = ax.get_ylim()
    ax.set(yscale="log", xlabel="epoch", ylabel="cross-entropy", title="Loss after each epoch",
           ylim=(low, high * (high / low) ** 0.8))  # headroom: the legend sits above the curves, not on them
    _report.readable_log_axis(ax, "y")
    ax.legend(handles=handles, fontsize=7, ncol=2, loc="upper center")


def study(small: bool, seed: int) -> _runner.Outcome:
    """Train the same network with each method of METHODS; one table row per method."""
    cfg = SMALL if small else FULL
    noise = cfg["noise"]
    data = (two_moons(100, seed + 1, noise), two_moons(100, seed + 2, noise), two_moons(2000, seed + 3, noise))
    with _report.single_thread():
        results = {method: train(method, data, cfg, seed) for method in METHODS}
    rows = [r[2] for r in results.values()]
    none = rows[0]
    summary = (f"without regularisation the test loss fell to {none['best_test_loss']:.2f} (epoch "
               f"{none['best_test_epoch']}) and ended at {none['final_test_loss']:.2f} (test accuracy "
               f"{100 * none['test_accuracy']:.1f}%) while the training loss went to {none['final_train_loss']:.2g}; "
               "final test loss (accuracy) with "
               + ", ".join(f"{r['method']} {r['final_test_loss']:.2f} ({100 * r['test_accuracy']:.1f}%)"
                           for r in rows[1:]))
    setup = (f"Data: two moons with N(0, {noise:g}²) noise: 100 training, 100 validation (early stopping only), 2000 test "
             f"points. Network 2-{cfg['hidden']}-{cfg['hidden']}-1 (ReLU, He normal, sigmoid output fused in the "
             f"loss), Adam lr {cfg['lr']:g}, batch 32, up to {cfg['epochs']} epochs, the same initial weights for "
             "every method. Losses are binary cross-entropy without the penalty terms.")
    return _runner.Outcome("Regularisation: train and test curves", rows, _plot(results, data, cfg), setup, summary,
                           CAPTION)


def run(out_dir: str, small: bool = False, seed: int = 0) -> dict:
    """Run the regularisation study; writes regularization.{png,csv,md} into `out_dir`.

    Returns {"png", "csv", "markdown", "summary"}.
    """
    return _runner.run(NAME, out_dir, study, small, seed)
