"""Callbacks against a fake model whose weights record the epoch that produced them."""
import json

import numpy as np
import pytest

from denso.callbacks import (Callback, CallbackList, EarlyStopping, History, LambdaCallback, LearningRateScheduler,
                             ModelCheckpoint)


class FakeOptimizer:
    def __init__(self, lr=0.1):
        self.lr = lr


class FakeModel:
    """The interface callbacks rely on; weights after epoch e are filled with e."""

    def __init__(self, lr=0.1):
        self.weights = [np.zeros((2, 3)), np.zeros(3)]
        self.stop_training = False
        self.optimizer = FakeOptimizer(lr)
        self.saved = []
        self.set_weights_calls = 0
        self.history = None

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.set_weights_calls += 1
        self.weights = [np.array(w, copy=True) for w in weights]

    def save(self, path):
        self.saved.append(path)

    @property
    def marker(self):
        """The epoch whose weights the model holds."""
        return float(self.weights[0][0, 0])


def fit(callbacks, logs_per_epoch, model=None, steps=0):
    """A minimal fit loop: returns (model, epochs run, lrs seen during each epoch)."""
    model = model or FakeModel()
    cbs = CallbackList(callbacks, model)
    cbs.on_train_begin()
    ran, lrs = 0, []
    for epoch, logs in enumerate(logs_per_epoch):
        cbs.on_epoch_begin(epoch)
        lrs.append(model.optimizer.lr)
        for b in range(steps):
            cbs.on_batch_end(b, {"loss": 1.0})
        model.weights = [np.full_like(w, epoch) for w in model.weights]  # "training"
        cbs.on_epoch_end(epoch, dict(logs))
        ran += 1
        if model.stop_training:
            break
    cbs.on_train_end()
    return model, ran, lrs


def losses(*values, key="val_loss"):
    return [{"loss": 1.0, key: v} for v in values]


# --- Callback / CallbackList -------------------------------------------------------------------

def test_base_callback_hooks_are_noops_and_need_no_batch_hooks():
    cb = Callback()
    model = FakeModel()
    cb.set_model(model)
    assert cb.model is model
    cb.on_train_begin()
    cb.on_epoch_begin(0)
    cb.on_epoch_end(0, {"loss": 1.0})
    cb.on_batch_end(0)
    cb.on_train_end()
    assert not cb.needs_batch_hooks


def test_needs_batch_hooks_detects_an_overridden_on_batch_end():
    class Batchy(Callback):
        def on_batch_end(self, batch, logs=None):
            pass

    class EpochOnly(Callback):
        def on_epoch_end(self, epoch, logs=None):
            pass

    assert Batchy().needs_batch_hooks
    assert not EpochOnly().needs_batch_hooks
    assert not History().needs_batch_hooks and not EarlyStopping().needs_batch_hooks
    assert CallbackList([EpochOnly(), Batchy()]).needs_batch_hooks
    assert not CallbackList([EpochOnly(), History()]).needs_batch_hooks


def test_callback_list_sets_model_and_calls_in_order_with_a_shared_logs_dict():
    calls = []

    class Recorder(Callback):
        def __init__(self, name):
            super().__init__()
            self.name = name

        def on_epoch_end(self, epoch, logs=None):
            calls.append((self.name, epoch, dict(logs)))
            logs[self.name] = 1.0

    model = FakeModel()
    a, b = Recorder("a"), Recorder("b")
    cbs = CallbackList([a, b], model)
    assert a.model is model and b.model is model and len(cbs) == 2 and list(cbs) == [a, b]
    cbs.on_epoch_end(3, {"loss": 0.5})
    assert calls == [("a", 3, {"loss": 0.5}), ("b", 3, {"loss": 0.5, "a": 1.0})]


def test_callback_list_only_sends_batch_hooks_to_those_that_need_them_and_append_attaches_model():
    seen = []
    cbs = CallbackList([LambdaCallback(on_batch_end=lambda b, logs: seen.append(b))], FakeModel())
    h = History()
    cbs.append(h)
    assert h.model is cbs.model
    cbs.on_batch_end(0)
    cbs.on_batch_end(1, {"loss": 2.0})
    assert seen == [0, 1]


def test_callback_list_rejects_non_callbacks():
    with pytest.raises(TypeError, match=r"`callbacks\[1\]` must be a denso.callbacks.Callback, got function"):
        CallbackList([History(), lambda: None])
    with pytest.raises(TypeError, match="`callback` must be a denso.callbacks.Callback, got int"):
        CallbackList().append(3)


# --- History -----------------------------------------------------------------------------------

def test_history_records_every_key_per_epoch_and_resets_per_fit():
    h = History()
    fit([h], [{"loss": 1.0, "val_loss": np.float32(2.0)}, {"loss": 0.5, "val_loss": 1.5}])
    assert h.history == {"loss": [1.0, 0.5], "val_loss": [2.0, 1.5]}
    assert h.epoch == [0, 1]
    assert all(isinstance(v, float) for v in h.history["val_loss"])
    json.dumps(h.history)  # plain floats: serialisable
    fit([h], [{"loss": 0.1}])
    assert h.history == {"loss": [0.1]} and h.epoch == [0]


def test_history_rejects_non_numeric_logs():
    h = History()
    with pytest.raises(TypeError, match=r"logs\['note'\] must be a number, got 'hi'"):
        h.on_epoch_end(0, {"note": "hi"})


# --- EarlyStopping -----------------------------------------------------------------------------

def test_early_stopping_stops_after_patience_epochs_without_improvement():
    stop = EarlyStopping(patience=2)
    model, ran, _ = fit([stop], losses(1.0, 0.8, 0.9, 0.85, 0.7, 0.6))
    # best at epoch 1; epochs 2 and 3 do not improve → stop at the end of epoch 3
    assert ran == 4 and model.stop_training
    assert stop.stopped_epoch == 3 and stop.best == 0.8 and stop.best_epoch == 1
    assert model.marker == 3  # without restore_best_weights the last weights stay


def test_early_stopping_patience_zero_stops_at_first_non_improvement():
    stop = EarlyStopping(patience=0)
    _, ran, _ = fit([stop], losses(1.0, 0.9, 0.95, 0.5))
    assert ran == 3 and stop.stopped_epoch == 2


def test_early_stopping_never_stops_while_improving():
    stop = EarlyStopping(patience=0)
    model, ran, _ = fit([stop], losses(5, 4, 3, 2, 1))
    assert ran == 5 and not model.stop_training and stop.stopped_epoch == 0 and stop.best_epoch == 4


def test_restore_best_weights_on_stop():
    stop = EarlyStopping(patience=2, restore_best_weights=True)
    model, ran, _ = fit([stop], losses(1.0, 0.8, 0.9, 0.85, 0.7))
    assert ran == 4 and model.marker == 1
    assert model.set_weights_calls == 1  # restored once, not again at train end


def test_restore_best_weights_at_train_end_when_the_best_epoch_was_not_the_last():
    stop = EarlyStopping(patience=5, restore_best_weights=True)
    model, ran, _ = fit([stop], losses(1.0, 0.5, 0.6, 0.7))
    assert ran == 4 and not model.stop_training
    assert model.marker == 1 and stop.best_epoch == 1


def test_no_restore_when_the_best_epoch_is_the_last():
    stop = EarlyStopping(patience=5, restore_best_weights=True)
    model, _, _ = fit([stop], losses(1.0, 0.6, 0.5))
    assert model.marker == 2 and model.set_weights_calls == 0


def test_no_restore_without_restore_best_weights():
    model, _, _ = fit([EarlyStopping(patience=5)], losses(1.0, 0.5, 0.6, 0.7))
    assert model.marker == 3 and model.set_weights_calls == 0


def test_min_delta_requires_improvement_by_more_than_delta():
    # 0.95 and 0.92 are better than 1.0 but not by more than 0.1
    stop = EarlyStopping(patience=2, min_delta=0.1)
    _, ran, _ = fit([stop], losses(1.0, 0.95, 0.92, 0.85))
    assert ran == 3 and stop.stopped_epoch == 2 and stop.best == 1.0
    no_delta = EarlyStopping(patience=2)
    _, ran, _ = fit([no_delta], losses(1.0, 0.95, 0.92, 0.85))
    assert ran == 4 and no_delta.best == 0.85


def test_min_delta_sign_is_ignored():
    assert EarlyStopping(min_delta=-0.1).min_delta == 0.1


def test_mode_auto_is_max_for_accuracy_keys():
    stop = EarlyStopping(monitor="val_accuracy", patience=1)
    _, ran, _ = fit([stop], losses(0.5, 0.6, 0.55, 0.7, key="val_accuracy"))
    assert ran == 3 and stop.best == 0.6 and stop.best_epoch == 1
    assert EarlyStopping(monitor="acc").monitor_op is np.greater
    assert EarlyStopping(monitor="loss").monitor_op is np.less


def test_explicit_mode_overrides_auto():
    stop = EarlyStopping(monitor="score", mode="max", patience=1)
    _, ran, _ = fit([stop], losses(1, 3, 2, key="score"))
    assert ran == 3 and stop.best == 3
    stop = EarlyStopping(monitor="val_accuracy", mode="min", patience=1)
    _, ran, _ = fit([stop], losses(0.5, 0.4, 0.6, key="val_accuracy"))
    assert ran == 3 and stop.best == 0.4


def test_max_mode_with_min_delta_and_restore():
    stop = EarlyStopping(monitor="val_accuracy", patience=2, min_delta=0.05, restore_best_weights=True)
    model, ran, _ = fit([stop], losses(0.5, 0.6, 0.62, 0.64, 0.9, key="val_accuracy"))
    # 0.62 and 0.64 do not beat 0.6 by more than 0.05 → stop at epoch 3, restore epoch 1
    assert ran == 4 and stop.best == 0.6 and model.marker == 1


def test_baseline_never_beaten_stops_after_patience_epochs_even_while_improving():
    stop = EarlyStopping(patience=3, baseline=0.5, restore_best_weights=True)
    model, ran, _ = fit([stop], losses(0.9, 0.8, 0.7, 0.6, 0.55, 0.4))
    assert ran == 3 and stop.stopped_epoch == 2
    assert stop.best == 0.7 and model.marker == 2


def test_baseline_beaten_resets_patience():
    stop = EarlyStopping(patience=2, baseline=0.5)
    _, ran, _ = fit([stop], losses(0.9, 0.4, 0.45, 0.3, 0.35, 0.36, 0.2))
    # epoch 1 beats the baseline; 2 does not improve; 3 improves (resets); 4, 5 do not → stop at 5
    assert ran == 6 and stop.stopped_epoch == 5 and stop.best == 0.3


def test_start_from_epoch_ignores_warm_up_epochs():
    stop = EarlyStopping(patience=1, start_from_epoch=2)
    _, ran, _ = fit([stop], losses(0.1, 0.2, 0.9, 0.8, 0.85, 0.7))
    # epochs 0-1 ignored (0.1 never becomes best); best 0.8 at 3, epoch 4 does not improve → stop
    assert ran == 5 and stop.best == 0.8 and stop.stopped_epoch == 4


def test_early_stopping_state_resets_between_fits():
    stop = EarlyStopping(patience=1, restore_best_weights=True)
    fit([stop], losses(1.0, 2.0, 3.0))
    model, ran, _ = fit([stop], losses(5.0, 4.0, 3.0))
    assert ran == 3 and stop.best == 3.0 and stop.stopped_epoch == 0 and model.set_weights_calls == 0


def test_early_stopping_missing_monitor_lists_available_keys():
    with pytest.raises(ValueError, match=r"EarlyStopping monitors 'val_loss', which is not in the epoch logs; "
                                         r"available keys: \['accuracy', 'loss'\]"):
        fit([EarlyStopping()], [{"loss": 1.0, "accuracy": 0.5}])


@pytest.mark.parametrize("kwargs,error,match", [
    ({"mode": "maximum"}, ValueError, "`mode` must be 'auto', 'min' or 'max', got 'maximum'"),
    ({"patience": -1}, ValueError, "`patience` must be an integer >= 0, got -1"),
    ({"patience": 1.5}, TypeError, "`patience` must be an integer, got float 1.5"),
    ({"min_delta": "x"}, TypeError, "`min_delta` must be a real number"),
    ({"baseline": float("inf")}, ValueError, "`baseline` must be a finite number"),
    ({"monitor": 3}, TypeError, "`monitor` must be a string, got 3"),
    ({"start_from_epoch": -2}, ValueError, "`start_from_epoch` must be an integer >= 0"),
])
def test_early_stopping_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        EarlyStopping(**kwargs)


# --- ModelCheckpoint ---------------------------------------------------------------------------

def test_checkpoint_saves_every_epoch_with_one_based_epoch_and_formatted_metrics(tmp_path):
    ckpt = ModelCheckpoint(str(tmp_path / "w-{epoch:02d}-{val_loss:.2f}.npz"))
    model, _, _ = fit([ckpt], losses(0.912, 0.8, 0.85))
    assert model.saved == [str(tmp_path / "w-01-0.91.npz"), str(tmp_path / "w-02-0.80.npz"),
                           str(tmp_path / "w-03-0.85.npz")]
    assert ckpt.last_path == model.saved[-1]


def test_checkpoint_plain_path_and_pathlike(tmp_path):
    model, _, _ = fit([ModelCheckpoint(tmp_path / "model.npz")], losses(1.0, 0.5))
    assert model.saved == [str(tmp_path / "model.npz")] * 2


def test_checkpoint_save_best_only_min_and_max():
    model, _, _ = fit([ModelCheckpoint("best-{epoch}.npz", save_best_only=True)], losses(1.0, 0.8, 0.9, 0.7, 0.7))
    assert model.saved == ["best-1.npz", "best-2.npz", "best-4.npz"]
    ckpt = ModelCheckpoint("acc-{epoch}-{val_accuracy:.1f}", monitor="val_accuracy", save_best_only=True)
    model, _, _ = fit([ckpt], losses(0.5, 0.4, 0.6, key="val_accuracy"))
    assert model.saved == ["acc-1-0.5", "acc-3-0.6"] and ckpt.best == 0.6


def test_checkpoint_unknown_field_lists_available_keys():
    ckpt = ModelCheckpoint("w-{val_acc:.2f}.npz")
    with pytest.raises(ValueError, match=r"uses \['val_acc'\], which are not in the epoch logs; "
                                         r"available: \['epoch'\] \+ \['loss', 'val_loss'\]"):
        fit([ckpt], losses(1.0))


def test_checkpoint_bad_format_spec_is_a_value_error():
    with pytest.raises(ValueError, match=r"cannot format `filepath` 'w-\{loss:d\}'"):
        fit([ModelCheckpoint("w-{loss:d}")], losses(1.0))


def test_checkpoint_save_best_only_missing_monitor():
    with pytest.raises(ValueError, match=r"ModelCheckpoint monitors 'val_loss'.*available keys: \['loss'\]"):
        fit([ModelCheckpoint("m.npz", save_best_only=True)], [{"loss": 1.0}])


@pytest.mark.parametrize("filepath,error,match", [
    (3, TypeError, "`filepath` must be a string or path, got 3"),
    ("w-{}.npz", ValueError, "fields must be named"),
    ("w-{0}.npz", ValueError, "fields must be named"),
    ("w-{epoch.npz", ValueError, "not a valid format string"),
])
def test_checkpoint_filepath_errors(filepath, error, match):
    with pytest.raises(error, match=match):
        ModelCheckpoint(filepath)


# --- LearningRateScheduler ---------------------------------------------------------------------

def test_scheduler_epoch_signature_sets_lr_each_epoch_and_logs_it():
    sched = LearningRateScheduler(lambda epoch: 0.1 / (1 + 0.5 * epoch))  # inverse-time decay
    h = History()
    model, _, lrs = fit([sched, h], losses(1, 1, 1))
    assert not sched.takes_lr
    np.testing.assert_allclose(lrs, [0.1, 0.1 / 1.5, 0.1 / 2.0])
    np.testing.assert_allclose(h.history["lr"], lrs)  # recorded before History sees the logs
    assert model.optimizer.lr == pytest.approx(0.05)


def test_scheduler_epoch_lr_signature_chains_from_the_current_rate():
    def halve_after_first(epoch, lr):
        return lr if epoch == 0 else lr / 2

    sched = LearningRateScheduler(halve_after_first)
    _, _, lrs = fit([sched], losses(1, 1, 1, 1), model=FakeModel(lr=0.8))
    assert sched.takes_lr
    assert lrs == [0.8, 0.4, 0.2, 0.1]


def test_scheduler_signature_detection_cases():
    assert LearningRateScheduler(lambda epoch, lr=0.1: lr).takes_lr
    assert LearningRateScheduler(lambda *args: 0.1).takes_lr
    assert not LearningRateScheduler(lambda epoch, *, scale=1.0: 0.1).takes_lr

    class Step:
        def __call__(self, epoch):
            return 0.1 * 0.5 ** (epoch // 10)

    assert not LearningRateScheduler(Step()).takes_lr
    with pytest.raises(TypeError, match=r"`schedule` must accept \(epoch\) or \(epoch, lr\)"):
        LearningRateScheduler(lambda: 0.1)
    with pytest.raises(TypeError, match=r"`schedule` must accept \(epoch\) or \(epoch, lr\)"):
        LearningRateScheduler(lambda a, b, c: 0.1)
    with pytest.raises(TypeError, match="`schedule` must be a callable"):
        LearningRateScheduler(0.1)


def test_scheduler_per_step_leaves_epochs_alone_and_gives_rates_by_global_step():
    sched = LearningRateScheduler(lambda step: 0.1 * 0.9 ** step, per_step=True)
    h = History()
    model = FakeModel(lr=0.5)
    _, _, lrs = fit([sched, h], losses(1, 1), model=model)
    assert lrs == [0.5, 0.5]  # the model drives the per-step rate, not on_epoch_begin
    assert [sched.lr_for_step(s) for s in (0, 1, 10)] == pytest.approx([0.1, 0.09, 0.1 * 0.9 ** 10])
    assert h.history["lr"] == [0.5, 0.5]
    assert not sched.needs_batch_hooks


def test_scheduler_per_step_with_lr_argument_chains():
    sched = LearningRateScheduler(lambda step, lr: lr * 0.5, per_step=True)
    sched.set_model(FakeModel(lr=1.0))
    assert sched.lr_for_step(0) == 0.5  # from the optimizer's rate
    rates, lr = [], 1.0
    for step in range(3):
        lr = sched.lr_for_step(step, lr)
        rates.append(lr)
    assert rates == [0.5, 0.25, 0.125]


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf"), "0.1", None, True, np.array([0.1])])
def test_scheduler_rejects_bad_rates(value):
    sched = LearningRateScheduler(lambda epoch: value)
    with pytest.raises(ValueError, match=r"`schedule` must return a finite number >= 0, got .* at epoch 0"):
        fit([sched], losses(1))
    with pytest.raises(ValueError, match=r"at step 7"):
        LearningRateScheduler(lambda step: value, per_step=True).lr_for_step(7)


def test_scheduler_accepts_numpy_scalars_and_zero():
    _, _, lrs = fit([LearningRateScheduler(lambda e: np.float32(0.25) * e)], losses(1, 1))
    assert lrs == [0.0, 0.25] and all(isinstance(lr, float) for lr in lrs)


def test_scheduler_global_step_is_validated():
    sched = LearningRateScheduler(lambda s: 0.1, per_step=True)
    with pytest.raises(ValueError, match="`global_step` must be an integer >= 0, got -1"):
        sched.lr_for_step(-1)


def test_scheduler_needs_an_optimizer():
    model = FakeModel()
    model.optimizer = None
    with pytest.raises(ValueError, match="needs a compiled model"):
        fit([LearningRateScheduler(lambda e, lr: lr)], losses(1), model=model)


# --- LambdaCallback ----------------------------------------------------------------------------

def test_lambda_callback_calls_each_hook_with_keras_arguments():
    events = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: events.append(("train_begin",)),
        on_epoch_begin=lambda epoch, logs: events.append(("epoch_begin", epoch)),
        on_batch_end=lambda batch, logs: events.append(("batch_end", batch, logs["loss"])),
        on_epoch_end=lambda epoch, logs: events.append(("epoch_end", epoch, logs["val_loss"])),
        on_train_end=lambda logs: events.append(("train_end",)),
    )
    assert cb.needs_batch_hooks
    fit([cb], losses(0.7), steps=2)
    assert events == [("train_begin",), ("epoch_begin", 0), ("batch_end", 0, 1.0), ("batch_end", 1, 1.0),
                      ("epoch_end", 0, 0.7), ("train_end",)]


def test_lambda_callback_without_batch_hook_does_not_need_batch_hooks():
    cb = LambdaCallback(on_epoch_end=lambda epoch, logs: None)
    assert not cb.needs_batch_hooks
    fit([cb], losses(1.0), steps=3)  # the missing hooks are no-ops


def test_lambda_callback_can_stop_training():
    def stop_at_one(epoch, logs):
        if epoch == 1:
            cb.model.stop_training = True

    cb = LambdaCallback(on_epoch_end=stop_at_one)
    _, ran, _ = fit([cb], losses(1, 1, 1, 1))
    assert ran == 2


def test_lambda_callback_rejects_non_callables():
    with pytest.raises(TypeError, match="`on_epoch_end` must be a callable or None, got 3"):
        LambdaCallback(on_epoch_end=3)
