"""ReduceLROnPlateau, CSVLogger and TerminateOnNaN: Keras's semantics, driven by scripted logs (exact
expectations) and through real fits."""
from __future__ import annotations

import csv
import math

import numpy as np
import pytest

import denso
from denso import CSVLogger, Dense, ReduceLROnPlateau, Sequential, TerminateOnNaN
from denso.callbacks import CallbackList


class _Optimizer:
    def __init__(self, lr):
        self.lr = lr


class _Model:
    """What the callbacks touch: optimizer.lr and stop_training."""

    def __init__(self, lr=1.0):
        self.optimizer = _Optimizer(lr)
        self.stop_training = False


def _drive(callback, values, key="val_loss", lr=1.0):
    """Run `callback` over epochs whose logs[key] are `values`; (rates in effect each epoch, logs)."""
    model = _Model(lr)
    callbacks = CallbackList([callback], model)
    callbacks.on_train_begin()
    rates, all_logs = [], []
    for epoch, value in enumerate(values):
        callbacks.on_epoch_begin(epoch)
        rates.append(model.optimizer.lr)
        logs = {key: value}
        callbacks.on_epoch_end(epoch, logs)
        all_logs.append(logs)
    return rates, all_logs, model


def test_plateau_reduces_after_patience_epochs_without_improvement():
    plateau = ReduceLROnPlateau(factor=0.5, patience=2, min_delta=0.0)
    rates, logs, model = _drive(plateau, [1.0, 0.9, 0.95, 0.92, 0.91, 0.8, 0.85, 0.85, 0.85])
    #                         epoch:  0    1    2     3     4     5    6     7     8
    # 0.9 is best from epoch 1; epochs 2 and 3 do not improve -> halved after epoch 3; 4 waits once,
    # 5 improves (0.8), 6 and 7 wait -> halved after 7; 8 waits once.
    assert rates == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25]
    assert [entry["lr"] for entry in logs] == rates  # the rate each epoch ran with
    assert model.optimizer.lr == 0.25 and plateau.best == 0.8 and plateau.wait == 1


def test_plateau_min_delta_mode_max_cooldown_and_min_lr():
    plateau = ReduceLROnPlateau(monitor="val_accuracy", factor=0.1, patience=1, min_delta=0.05, cooldown=2,
                                min_lr=0.015)
    rates, _, model = _drive(plateau, [0.9, 0.94, 0.97, 0.97, 0.97, 0.97, 0.97, 0.97], key="val_accuracy")
    # Keras's steps: e1 0.94 is not 0.05 above 0.9 -> lr 0.1, cooldown 2; e2 counts the cooldown down
    # (and 0.97 improves); e3 counts it to 0 and, out of cooldown, waits -> lr max(0.01, 0.015); e4 in
    # cooldown; e5.. wait, but lr is at min_lr and stays.
    assert rates == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.015, 0.015, 0.015, 0.015])
    assert model.optimizer.lr == pytest.approx(0.015) and plateau.best == 0.97


def test_plateau_checks_arguments_and_missing_keys(capsys):
    with pytest.raises(ValueError, match=r"`factor` must be a finite number in \[0, 1\), got 1.0"):
        ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError, match="`mode` must be 'auto', 'min' or 'max', got 'up'"):
        ReduceLROnPlateau(mode="up")
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau monitors 'val_loss', which is not in the epoch logs; "
                                         r"available keys: \['loss'\]"):
        _drive(ReduceLROnPlateau(), [1.0], key="loss")
    _drive(ReduceLROnPlateau(monitor="loss", patience=0, verbose=1, factor=0.5), [1.0, 1.0], key="loss")
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.5." in capsys.readouterr().out


def test_plateau_in_a_real_fit_sets_the_optimizer_rate():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 3)), rng.standard_normal((64, 1))
    model = Sequential([Dense(4, activation="tanh"), Dense(1)], input_dim=3, seed=0)
    model.compile(denso.optim.SGD(learning_rate=0.1), "mse")
    # a min_delta no epoch can beat: every epoch after the first is a plateau epoch
    history = model.fit(x, y, epochs=4, verbose=0,
                        callbacks=[ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e9)])
    assert history.history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.025])  # epoch 0 sets the first best
    assert model.optimizer.lr == pytest.approx(0.0125)


def test_csv_logger_writes_a_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    callbacks = CallbackList([logger], _Model())
    callbacks.on_train_begin()
    callbacks.on_epoch_end(0, {"loss": 0.5, "accuracy": 0.75})
    callbacks.on_epoch_end(1, {"loss": 0.25, "accuracy": 1.0, "lr": 0.1})  # a key not in the header: ignored
    callbacks.on_epoch_end(2, {"loss": 0.125})  # a key missing: NA
    callbacks.on_train_end()
    assert path.read_text() == "epoch,accuracy,loss\n0,0.75,0.5\n1,1.0,0.25\n2,NA,0.125\n"
    # a new fit overwrites; with append=True it adds rows under the existing header
    callbacks.on_train_begin()
    callbacks.on_epoch_end(0, {"loss": 2.0, "accuracy": 0.5})
    assert path.read_text() == "epoch,accuracy,loss\n0,0.5,2.0\n"
    appending = CallbackList([CSVLogger(path, separator=";", append=True)], _Model())
    appending.on_train_begin()
    appending.on_epoch_end(0, {"loss": 1.5, "accuracy": 0.5})
    assert path.read_text() == "epoch,accuracy,loss\n0,0.5,2.0\n0;0.5;1.5\n"


def test_csv_logger_in_a_real_fit_equals_the_history(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((50, 3)), rng.integers(0, 2, 50)
    model = Sequential([Dense(4, activation="relu"), Dense(2)], input_dim=3, seed=1)
    model.compile("adam", "sparse_categorical_crossentropy", metrics="accuracy")
    path = tmp_path / "fit.csv"
    history = model.fit(x, y, epochs=3, verbose=0, validation_split=0.2, callbacks=[CSVLogger(str(path), "\t")])
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    for key, values in history.history.items():
        assert [float(r[key]) for r in rows] == values


def test_csv_logger_checks_arguments():
    with pytest.raises(ValueError, match="`separator` must be a single character, got ', '"):
        CSVLogger("x.csv", separator=", ")
    with pytest.raises(TypeError, match="`filename` must be a string or path, got 3"):
        CSVLogger(3)


def test_terminate_on_nan_stops_a_scripted_loop(capsys):
    terminate = TerminateOnNaN()
    rates, _, model = _drive(terminate, [1.0, 0.5, math.nan, 0.1], key="loss")
    assert len(rates) == 4 and model.stop_training and terminate.stopped_epoch == 2  # the loop decides when to stop
    assert "Epoch 2: Invalid loss, terminating training" in capsys.readouterr().out
    terminate = TerminateOnNaN()
    terminate.set_model(_Model())
    terminate.on_train_begin()
    terminate.on_epoch_begin(4)
    terminate.on_batch_end(0, {"loss": 1.0})
    assert not terminate.model.stop_training
    terminate.on_batch_end(1, {"loss": math.inf})
    assert terminate.model.stop_training and (terminate.stopped_epoch, terminate.stopped_batch) == (4, 1)
    assert "Batch 1: Invalid loss, terminating training" in capsys.readouterr().out
    assert not terminate.needs_batch_hooks  # fit tells it of a bad batch: no per-batch return to Python


def _diverging_model(dtype="float64"):
    model = Sequential([Dense(8, activation="relu"), Dense(1)], input_dim=3, seed=1, dtype=dtype)
    model.compile(denso.optim.SGD(lr=1e150), "mse", metrics=["mae"])
    return model


@pytest.mark.parametrize("engine", ["plan", "graph"])
def test_fit_without_terminate_on_nan_raises_and_with_it_returns(engine, capsys):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((40, 3)), rng.standard_normal(40) * 100
    with pytest.raises(denso.TrainingDiverged):
        _diverging_model().fit(x, y, epochs=3, batch_size=4, verbose=0, engine=engine)
    capsys.readouterr()
    model = _diverging_model()
    terminate = TerminateOnNaN()
    history = model.fit(x, y, epochs=3, batch_size=4, verbose=0, engine=engine, validation_split=0.25,
                        callbacks=[terminate])
    out = capsys.readouterr().out
    assert terminate.stopped_epoch == 0 and terminate.stopped_batch is not None
    assert f"Batch {terminate.stopped_batch}: Invalid loss, terminating training" in out
    assert history.epoch == [0] and math.isnan(history.history["loss"][0])
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    assert all(np.isfinite(w).all() for w in model.get_weights())  # the last finite step's weights
    assert model.steps_trained == terminate.stopped_batch  # the bad batch was not applied
