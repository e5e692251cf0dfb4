"""ProgressBar output on a terminal, on a plain stream and when silent; number and time formatting."""
import io
import re
import time

import pytest

from denso import progress
from denso.progress import ProgressBar, format_duration, format_value


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


class Clock:
    """A settable replacement for the progress module's clock."""

    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(progress, "_now", c)
    return c


def frames(text):
    """The successive contents of the live line (split on '\\r', trailing padding removed)."""
    return [f.rstrip(" \n") for f in text.split("\r") if f]


def test_tty_draws_a_live_bar_with_logs_elapsed_and_eta(clock):
    out = FakeTTY()
    bar = ProgressBar(epochs=10, steps_per_epoch=469, stream=out, interval=0)
    bar.epoch_begin(2)
    clock.t += 2.1
    bar.update(45, {"loss": 0.431249, "accuracy": 0.88119})
    last = frames(out.getvalue())[-1]
    assert last == ("Epoch 3/10   45/469 [==>...........................]  loss: 0.4312  accuracy: 0.8812  "
                    "elapsed 2.1s  ETA 19.8s")  # 2.1 / 45 * 424 = 19.79 s


def test_tty_epoch_end_writes_the_final_line_with_all_logs_and_time(clock):
    out = FakeTTY()
    bar = ProgressBar(epochs=2, steps_per_epoch=4, stream=out, interval=0)
    bar.epoch_begin(0)
    for step in range(1, 5):
        clock.t += 0.5
        bar.update(step, {"loss": 1.0 / step})
    bar.epoch_end(0, {"loss": 0.5, "accuracy": 0.75, "val_loss": 0.625, "val_accuracy": 0.5})
    text = out.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    final = frames(text)[-1]
    assert final == ("Epoch 1/2  4/4 [==============================]  loss: 0.5000  accuracy: 0.7500  "
                     "val_loss: 0.6250  val_accuracy: 0.5000  time 2.0s (500.0ms/step)")
    assert "ETA" not in final


def test_tty_redraw_blanks_leftovers_of_a_longer_previous_line(clock):
    out = FakeTTY()
    bar = ProgressBar(epochs=1, steps_per_epoch=10, stream=out, interval=0)
    bar.epoch_begin(0)
    clock.t += 1
    bar.update(1, {"a_very_long_metric_name": 1.0, "another_long_one": 2.0})
    long_len = len(out.getvalue().split("\r")[-1])
    bar.update(2, {})
    shorter = out.getvalue().split("\r")[-1]
    assert len(shorter) == long_len and shorter.endswith(" ")


def test_tty_redraws_are_throttled_but_the_last_step_always_draws(clock):
    out = FakeTTY()
    bar = ProgressBar(epochs=1, steps_per_epoch=100, stream=out, interval=0.05)
    bar.epoch_begin(0)
    for step in range(1, 101):
        clock.t += 0.001  # 100 steps in 0.1 s: at most a few redraws
        bar.update(step, {"loss": 0.1})
    drawn = frames(out.getvalue())
    assert 2 <= len(drawn) <= 5  # the initial empty bar, ~2 throttled redraws, the final step
    assert drawn[-1].startswith("Epoch 1/1  100/100 [======")


def test_initial_bar_shows_unknown_eta(clock):
    out = FakeTTY()
    ProgressBar(epochs=3, steps_per_epoch=7, stream=out).epoch_begin(0)
    assert frames(out.getvalue()) == ["Epoch 1/3  0/7 [..............................]  elapsed 0ms  ETA -"]


def test_not_a_tty_writes_one_summary_line_per_epoch_and_no_carriage_return(clock):
    out = io.StringIO()
    bar = ProgressBar(epochs=2, steps_per_epoch=3, stream=out, interval=0)
    for epoch in range(2):
        bar.epoch_begin(epoch)
        for step in range(1, 4):
            clock.t += 0.25
            bar.update(step, {"loss": 0.5})
        bar.epoch_end(epoch, {"loss": 0.5 - 0.25 * epoch, "val_loss": 0.75})
    text = out.getvalue()
    assert "\r" not in text and "[" not in text
    assert text.splitlines() == [
        "Epoch 1/2  3/3  loss: 0.5000  val_loss: 0.7500  time 750ms (250.0ms/step)",
        "Epoch 2/2  3/3  loss: 0.2500  val_loss: 0.7500  time 750ms (250.0ms/step)",
    ]


def test_verbose_2_is_one_line_per_epoch_even_on_a_tty(clock):
    out = FakeTTY()
    bar = ProgressBar(epochs=1, steps_per_epoch=2, stream=out, verbose=2, interval=0)
    bar.epoch_begin(0)
    bar.update(1, {"loss": 1.0})
    bar.epoch_end(0, {"loss": 1.0})
    assert "\r" not in out.getvalue() and out.getvalue().count("\n") == 1


@pytest.mark.parametrize("stream", [FakeTTY, io.StringIO])
def test_verbose_0_prints_nothing(stream, clock):
    out = stream()
    bar = ProgressBar(epochs=1, steps_per_epoch=2, stream=out, verbose=0, interval=0)
    bar.epoch_begin(0)
    bar.update(1, {"loss": 1.0})
    bar.epoch_end(0, {"loss": 1.0})
    assert out.getvalue() == ""


def test_default_stream_is_stdout_at_write_time(capsys):
    bar = ProgressBar(epochs=1, steps_per_epoch=1)
    bar.epoch_begin(0)
    bar.update(1, {"loss": 0.5})
    bar.epoch_end(0, {"loss": 0.5})
    assert capsys.readouterr().out.startswith("Epoch 1/1  1/1  loss: 0.5000  time ")


def test_epoch_end_without_updates_still_reports_the_full_epoch(clock):
    out = io.StringIO()
    bar = ProgressBar(epochs=5, steps_per_epoch=200, stream=out)
    bar.epoch_begin(4)
    clock.t += 90
    bar.epoch_end(4, {"loss": 0.01})
    assert out.getvalue() == "Epoch 5/5  200/200  loss: 0.0100  time 1m30s (450.0ms/step)\n"


def test_streams_whose_isatty_fails_count_as_not_a_tty():
    class Closed(io.StringIO):
        def isatty(self):
            raise ValueError("I/O operation on closed file")

    assert not ProgressBar(1, 1, stream=Closed()).live
    assert not ProgressBar(1, 1, stream=object()).live
    assert ProgressBar(1, 1, stream=FakeTTY()).live


def test_update_is_cheap_when_not_drawing():
    bar = ProgressBar(epochs=1, steps_per_epoch=10**6, stream=io.StringIO())
    bar.epoch_begin(0)
    start = time.perf_counter()
    for step in range(1, 20001):
        bar.update(step, {"loss": 0.1})
    assert (time.perf_counter() - start) / 20000 < 20e-6


@pytest.mark.parametrize("value,text", [
    (0.431249, "0.4312"), (1.0, "1.0000"), (0, "0.0000"), (-2.5, "-2.5000"), (0.00012345, "1.2345e-04"),
    (123456.0, "1.2346e+05"), (float("nan"), "nan"), (float("inf"), "inf"), ("n/a", "n/a"),
])
def test_format_value(value, text):
    assert format_value(value) == text


@pytest.mark.parametrize("seconds,text", [
    (0.0123, "12ms"), (2.14, "2.1s"), (59.9, "59.9s"), (187.2, "3m07s"), (3900, "1h05m"),
])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("kwargs,error,match", [
    ({"epochs": 0, "steps_per_epoch": 1}, ValueError, "`epochs` must be an integer >= 1, got 0"),
    ({"epochs": 1, "steps_per_epoch": 2.5}, TypeError, "`steps_per_epoch` must be an integer"),
    ({"epochs": 1, "steps_per_epoch": 1, "verbose": 3}, ValueError, "`verbose` must be 0, 1 or 2, got 3"),
    ({"epochs": 1, "steps_per_epoch": 1, "verbose": True}, ValueError, "`verbose` must be 0, 1 or 2"),
    ({"epochs": 1, "steps_per_epoch": 1, "interval": -1}, ValueError, "`interval` must be a finite number >= 0"),
])
def test_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        ProgressBar(**kwargs)


def test_step_out_of_range():
    bar = ProgressBar(epochs=1, steps_per_epoch=5, stream=io.StringIO())
    bar.epoch_begin(0)
    with pytest.raises(ValueError, match=re.escape("`step` must be in [0, steps_per_epoch=5], got 6")):
        bar.update(6)
