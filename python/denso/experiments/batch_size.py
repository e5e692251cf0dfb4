"""Mini-batch size, from stochastic (1) to full-batch gradient descent: speed and prediction error.

Every batch size trains the same network (784-64-10, ReLU, He init; plain SGD) from the same
initial weights until its training loss, measured after every epoch on a fixed subset of the
training data, reaches a target (or a cap on epochs or time is hit). The learning rate grows with
the square root of the batch size. Training time excludes the evaluations. Reported per batch size:
throughput (samples/s), epochs, updates and wall-clock seconds to reach the target, and the test
accuracy when it was reached.

Small batches make many cheap, noisy updates but use the CPU poorly (a matrix-vector product per
layer); large batches use it well (matrix-matrix products) but update rarely. The fastest route
to a given loss lies in between.
"""
from __future__ import annotations

import contextlib

import numpy as np

from .. import Dense, Sequential, get_num_threads, optim
from ..callbacks import Callback
from . import _data, _report, _runner

NAME = "batch-size"
QUESTION = ("How does the mini-batch size, from 1 (stochastic) to the whole set (full batch), change "
            "throughput, the time to reach a training loss, and test accuracy?")
TARGET_LOSS = 0.5
FULL = {"n_train": 10000, "n_test": 5000, "n_eval": 2000, "sizes": (1, 4, 16, 64, 256, 1024, None),
        "max_epochs": 400, "time_cap": 12.0}
CAPTION = ("Left: the training loss after each epoch against training time, log scale, one curve per batch size; "
           "the dashed line is the target. Middle: samples per second (blue) and seconds to the target (red): "
           "look at where the red curve is lowest, between batch 1 and the full batch. Right: the test accuracy "
           "of each batch size when it reached the target (hollow: never reached it).")
SMALL = {"n_train": 2000, "n_test": 1000, "n_eval": 500, "sizes": (1, 16, 256, None),
         "max_epochs": 40, "time_cap": 5.0}


def learning_rate(batch_size: int) -> float:
    """0.01·√batch, capped at 0.2: larger batches average away gradient noise and take larger steps
    (square-root scaling); one rate for all sizes makes batch 1 diverge or full batch crawl."""
    return min(0.2, 0.01 * batch_size ** 0.5)


class _Checkpoints(Callback):
    """Times training (not evaluation), measures the training loss after every epoch, and stops
    the fit at the target loss or when `time_cap` seconds of training are spent."""

    def __init__(self, target: float, time_cap: float, x_eval, y_eval):
        super().__init__()
        self.target, self.time_cap, self.x_eval, self.y_eval = target, time_cap, x_eval, y_eval
        self.watch = _report.Stopwatch()
        self.curve = []  # (training seconds, epochs done, training loss)

    def on_train_begin(self, logs=None) -> None:
        self.curve.append((0.0, 0, self.model.evaluate(self.x_eval, self.y_eval)["loss"]))
        self.watch.start()

    def on_epoch_end(self, epoch, logs=None) -> None:
        elapsed = self.watch.stop()
        loss = self.model.evaluate(self.x_eval, self.y_eval)["loss"]
        self.curve.append((elapsed, epoch + 1, loss))
        self.model.stop_training = loss <= self.target or elapsed >= self.time_cap
        self.watch.start()


def _train(batch_size, data, cfg, seed):
    """Train one model until the target loss (or a cap); returns its table row and loss curve."""
    (x, y), (x_test, y_test) = data
    model = Sequential([Dense(64, activation="relu", kernel_initializer="he_normal"), Dense(10)],
                       input_dim=x.shape[1], seed=seed)
    lr = learning_rate(batch_size)
    model.compile(optim.SGD(lr=lr), "categorical_crossentropy", ["accuracy"])
    probe = _Checkpoints(TARGET_LOSS, cfg["time_cap"], x[:cfg["n_eval"]], y[:cfg["n_eval"]])
    model.fit(x, y, epochs=cfg["max_epochs"], batch_size=batch_size, verbose=0, seed=seed, callbacks=[probe])
    curve = np.array(probe.curve)
    seconds, epochs, loss = curve[-1]
    reached = loss <= TARGET_LOSS
    updates_per_epoch = -(-x.shape[0] // batch_size)
    crossing = _crossing(curve, TARGET_LOSS) if reached else (None, None)
    row = {
        "batch_size": batch_size, "lr": lr, "updates_per_epoch": updates_per_epoch,
        "samples_per_s": epochs * x.shape[0] / seconds,
        "epochs": int(epochs), "updates": int(epochs) * updates_per_epoch, "seconds": float(seconds),
        "reached_target": bool(reached), "seconds_to_target": crossing[0], "epochs_to_target": crossing[1],
        "train_loss": float(loss), "test_accuracy": model.evaluate(x_test, y_test)["accuracy"],
    }
    return row, curve


def _crossing(curve, target) -> tuple:
    """(seconds, epochs) at which the loss crossed `target`, interpolated linearly between the last two
    checkpoints: the loss is only measured after whole epochs, and one epoch of batch 1 is long."""
    (t0, e0, l0), (t1, e1, l1) = curve[-2], curve[-1]
    w = (l0 - target) / (l0 - l1) if l0 > l1 else 1.0
    return float(t0 + w * (t1 - t0)), float(e0 + w * (e1 - e0))


def _plot(rows, curves, source):
    fig, (ax_time, ax_speed, ax_acc) = _report.new_figure(3)
    fig.suptitle(f"Data: {source}", fontsize=10)  # too long for a panel title (the synthetic fallback's)
    _plot_curves(ax_time, rows, curves)
    _plot_speed(ax_speed, rows)
    _plot_accuracy(ax_acc, rows)
    return fig


def _plot_curves(ax, rows, curves) -> None:
    """Training loss after each epoch against training time, one curve per batch size."""
    from matplotlib import colormaps
    for i, (row, curve) in enumerate(zip(rows, curves)):
        color = colormaps["viridis"](i / max(len(rows) - 1, 1))
        ax.plot(curve[1:, 0], curve[1:, 2], "o-", ms=2, color=color, label=f"batch {row['batch_size']}")
    ax.axhline(TARGET_LOSS, color="0.4", ls="--", lw=0.8, label=f"target {TARGET_LOSS}")
    ax.set(xscale="log", xlabel="training time (s)", ylabel="training loss", title="Training loss after each epoch")
    _report.readable_log_axis(ax, "x")
    ax.legend(fontsize=7)


def _plot_speed(ax, rows) -> None:
    """Samples per second (left axis) and seconds to the target loss (right axis) against batch size."""
    sizes = [r["batch_size"] for r in rows]
    ax.plot(sizes, [r["samples_per_s"] for r in rows], "o-", color="C0", label="samples / s")
    ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel="samples / s", title="Throughput and time to target")
    twin = ax.twinx()
    reached = [r for r in rows if r["reached_target"]]
    missed = [r for r in rows if not r["reached_target"]]
    twin.plot([r["batch_size"] for r in reached], [r["seconds_to_target"] for r in reached], "s--", color="C3",
              label=f"seconds to loss {TARGET_LOSS}")
    if missed:
        twin.plot([r["batch_size"] for r in missed], [r["seconds"] for r in missed], "s", mfc="white", color="C3",
                  label="not reached (seconds run)")
    for r in missed:  # the text goes left of the point, inside the panel even at its right edge
        twin.annotate(f"not reached\nin {r['seconds']:.2g} s", (r["batch_size"], r["seconds"]), xytext=(-7, 0),
                      textcoords="offset points", ha="right", va="center", fontsize=7, color="C3")
    twin.set(yscale="log", ylabel="seconds (training only)")
    _batch_size_ticks(ax, sizes)
    _report.readable_log_axis(ax, "y")
    _report.readable_log_axis(twin, "y")
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2,
              fontsize=7)  # under the panel: inside it, it would cover a curve or the "not reached" note


def _plot_accuracy(ax, rows) -> None:
    """Test accuracy of the batch sizes that reached the target; the others apart, as what they ended at."""
    reached = [r for r in rows if r["reached_target"]]
    missed = [r for r in rows if not r["reached_target"]]
    ax.plot([r["batch_size"] for r in reached], [100 * r["test_accuracy"] for r in reached], "o-", color="C2",
            label=f"at training loss {TARGET_LOSS}")
    if missed:
        ax.plot([r["batch_size"] for r in missed], [100 * r["test_accuracy"] for r in missed], "o", mfc="white",
                color="0.4", label=f"never reached {TARGET_LOSS}: after the last epoch")
    ax.set(xscale="log", xlabel="batch size", ylabel="test accuracy (%)", title="Test accuracy")
    _batch_size_ticks(ax, [r["batch_size"] for r in rows])
    ax.legend(fontsize=7)


def _batch_size_ticks(ax, sizes) -> None:
    """The batch sizes themselves as the x ticks, and no minor labels."""
    from matplotlib import ticker
    ax.xaxis.set_major_locator(ticker.FixedLocator(sizes))
    ax.xaxis.set_major_formatter(ticker.FixedFormatter([str(s) for s in sizes]))
    ax.xaxis.set_minor_locator(ticker.NullLocator())


def study(small: bool, seed: int) -> _runner.Outcome:
    """Train one model per batch size in the config; the table has one row per batch size."""
    cfg = SMALL if small else FULL
    train, test, source = _data.classification(cfg["n_train"], cfg["n_test"], seed, quick=small)
    n = train[0].shape[0]
    rows, curves = [], []
    # The small run is a smoke test and runs on one thread, so it does not depend on the machine's
    # load; the full run measures the thread count in effect (denso.set_num_threads).
    with _report.single_thread() if small else contextlib.nullcontext():
        threads = get_num_threads()
        for size in cfg["sizes"]:
            row, curve = _train(size or n, (train, test), cfg, seed)
            rows.append(row)
            curves.append(curve)
    setup = (f"Data: {source}, {n} training and {test[0].shape[0]} test samples. Model {train[0].shape[1]}-64-10 "
             "(ReLU, He normal), plain SGD with lr = min(0.2, 0.01·√batch), the same initial weights for every "
             f"batch size, {threads} thread(s). Each trains until the training loss (on "
             f"{cfg['n_eval']} training samples, after each epoch) is ≤ {TARGET_LOSS}, or for at most "
             f"{cfg['max_epochs']} epochs / {cfg['time_cap']:g} s. Seconds count training only (no evaluation); "
             "seconds_to_target and epochs_to_target interpolate linearly between the epoch checkpoints. "
             f"A batch of {n} is full-batch gradient descent, 1 is stochastic gradient descent.")
    return _runner.Outcome("Mini-batch size: speed and prediction error", rows, _plot(rows, curves, source), setup,
                           _summary(rows), CAPTION)


def run(out_dir: str, small: bool = False, seed: int = 0) -> dict:
    """Run the batch-size study; writes batch_size.{png,csv,md} into `out_dir`.

    Returns {"png", "csv", "markdown", "summary"}.
    """
    return _runner.run(NAME, out_dir, study, small, seed)


def _summary(rows) -> str:
    def when(r):
        return f"{r['seconds_to_target']:.2g} s" if r["reached_target"] else f"not within {r['seconds']:.2g} s"
    reached = [r for r in rows if r["reached_target"]]
    parts = []
    if reached:
        quick = min(reached, key=lambda r: r["seconds_to_target"])
        parts.append(f"batch {quick['batch_size']} reached training loss {TARGET_LOSS} fastest, in "
                     f"{quick['seconds_to_target']:.2g} s ({quick['epochs_to_target']:.2g} epochs)")
    ends = [f"batch 1: {when(rows[0])}", f"full batch ({rows[-1]['batch_size']}): {when(rows[-1])}"]
    parts.append("; ".join(e for e, r in zip(ends, (rows[0], rows[-1])) if not reached or r is not quick))
    fastest = max(rows, key=lambda r: r["samples_per_s"])
    parts.append(f"throughput {rows[0]['samples_per_s']:,.0f} samples/s at batch 1, up to "
                 f"{fastest['samples_per_s']:,.0f} at batch {fastest['batch_size']}")
    accs = [100 * r["test_accuracy"] for r in reached] or [100 * r["test_accuracy"] for r in rows]
    parts.append(f"test accuracy at the target {min(accs):.1f}–{max(accs):.1f}%")
    return "; ".join(parts)
