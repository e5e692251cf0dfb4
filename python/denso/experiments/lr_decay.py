"""Learning-rate decay: a constant rate against inverse-time, step and cosine decay.

Mini-batch SGD never settles at a constant learning rate: the gradient noise of each batch keeps
the weights bouncing around a minimum, at a distance that grows with the rate. Decaying the rate
lets early epochs move fast and later ones settle. Every schedule starts from the same rate and
the same initial weights; `denso.LearningRateScheduler` sets the rate at the start of each epoch.
"""
from __future__ import annotations

import numpy as np

from .. import Dense, LambdaCallback, LearningRateScheduler, Sequential, optim
from ..optim import schedules
from . import _data, _report, _runner

NAME = "lr-decay"
QUESTION = ("Does decaying the learning rate (inverse-time, step, cosine) end at a lower loss than a constant "
            "rate?")
CAPTION = ("Left: the learning rate of each schedule per epoch. Middle and right: the training and test loss "
           "after each epoch: look at where the constant rate stops improving while the decayed ones go on.")
LR0 = 0.1
FULL = {"n_train": 20000, "n_test": 5000, "epochs": 30, "batch": 32}
SMALL = {"n_train": 2000, "n_test": 1000, "epochs": 8, "batch": 32}


def make_schedules(epochs: int) -> dict:
    """{label: (schedule(epoch) -> lr, description)} for the four strategies."""
    step = max(epochs // 4, 1)
    return {
        "constant": (lambda epoch: LR0, f"lr = {LR0}"),
        "inverse-time": (schedules.InverseTimeDecay(LR0, decay_rate=0.5), f"lr = {LR0} / (1 + 0.5·epoch)"),
        "step": (schedules.StepDecay(LR0, step_size=step, gamma=0.3), f"lr × 0.3 every {step} epochs"),
        "cosine": (schedules.CosineDecay(LR0, t_max=epochs), f"half cosine from {LR0} to 0 over {epochs} epochs"),
    }


def train(schedule, data, cfg, seed):
    """Fit the 784-128-10 network with SGD under `schedule`; returns its history dict.

    The history gains "train_loss": the loss after each epoch on (up to) the first 5000 training
    samples, evaluated with the epoch's final weights (History's "loss" is the mean during the epoch).
    """
    (x, y), test = data
    model = Sequential([Dense(128, activation="relu", kernel_initializer="he_normal"), Dense(10)],
                       input_dim=x.shape[1], seed=seed)
    model.compile(optim.SGD(lr=LR0), "categorical_crossentropy", ["accuracy"])
    train_loss = []
    probe = LambdaCallback(on_epoch_end=lambda epoch, logs: train_loss.append(
        model.evaluate(x[:5000], y[:5000])["loss"]))
    history = model.fit(x, y, epochs=cfg["epochs"], batch_size=cfg["batch"], validation_data=test,
                        callbacks=[LearningRateScheduler(schedule), probe], verbose=0, seed=seed)
    return dict(history.history, train_loss=train_loss)


def _plot(histories, source):
    fig, (ax_lr, ax_train, ax_test) = _report.new_figure(3)
    for i, (label, h) in enumerate(histories.items()):
        epochs = np.arange(1, len(h["loss"]) + 1)
        ax_lr.plot(epochs, h["lr"], "o-", ms=3, color=f"C{i}", label=label)
        ax_train.plot(epochs, h["train_loss"], color=f"C{i}", label=label)
        ax_test.plot(epochs, h["val_loss"], color=f"C{i}", label=label)
    ax_lr.set(yscale="log", xlabel="epoch", ylabel="learning rate", title="Schedules")
    ax_train.set(yscale="log", xlabel="epoch", ylabel="training loss (after each epoch)", title="Training loss")
    fig.suptitle(f"Data: {source}", fontsize=10)  # too long for a panel title (the synthetic fallback's)
    ax_test.set(xlabel="epoch", ylabel="test loss", title="Test loss")
    _report.readable_log_axis(ax_lr, "y")
    _report.readable_log_axis(ax_train, "y")
    for ax in (ax_lr, ax_train, ax_test):
        ax.legend(fontsize=8)
    return fig


def _summary(rows, cfg) -> str:
    const = rows[0]
    best = min(rows[1:], key=lambda r: r["final_test_loss"])
    return (f"after {cfg['epochs']} epochs the constant rate {LR0} ended at test loss {const['final_test_loss']:.3f} "
            f"({100 * const['final_test_accuracy']:.1f}% accuracy; its best epoch had {const['best_test_loss']:.3f}); "
            + ", ".join(f"{r['schedule']} {r['final_test_loss']:.3f} ({100 * r['final_test_accuracy']:.1f}%)"
                        for r in rows[1:])
            + f"; best: {best['schedule']}")


def study(small: bool, seed: int) -> _runner.Outcome:
    """Train under each schedule; the table has one row per schedule."""
    cfg = SMALL if small else FULL
    train_data, test_data, source = _data.classification(cfg["n_train"], cfg["n_test"], seed, quick=small)
    histories, rows = {}, []
    with _report.single_thread():
        for label, (schedule, description) in make_schedules(cfg["epochs"]).items():
            h = train(schedule, (train_data, test_data), cfg, seed)
            histories[label] = h
            rows.append({"schedule": label, "rule": description, "final_lr": h["lr"][-1],
                         "final_train_loss": h["train_loss"][-1],
                         "final_test_loss": h["val_loss"][-1], "best_test_loss": min(h["val_loss"]),
                         "final_test_accuracy": h["val_accuracy"][-1]})
    setup = (f"Data: {source}, {train_data[0].shape[0]} training and {test_data[0].shape[0]} test samples. "
             f"Network {train_data[0].shape[1]}-128-10 (ReLU, He normal), plain SGD, batch {cfg['batch']}, "
             f"{cfg['epochs']} epochs, initial rate {LR0} for every schedule, same initial weights. Training loss: evaluated after each "
             "epoch on the first 5000 training samples.")
    return _runner.Outcome("Learning-rate decay", rows, _plot(histories, source), setup, _summary(rows, cfg),
                           CAPTION)


def run(out_dir: str, small: bool = False, seed: int = 0) -> dict:
    """Run the learning-rate decay study; writes lr_decay.{png,csv,md} into `out_dir`.

    Returns {"png", "csv", "markdown", "summary"}.
    """
    return _runner.run(NAME, out_dir, study, small, seed)
