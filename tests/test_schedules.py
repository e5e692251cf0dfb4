"""Learning-rate schedules: closed forms, validation, config round trips."""
import json
import math

import pytest

from denso.optim import schedules
from denso.optim.schedules import CosineDecay, ExponentialDecay, InverseTimeDecay, StepDecay

T = [0, 1, 2, 3, 7, 10, 11, 25, 100]


@pytest.mark.parametrize("t", T)
def test_inverse_time_decay(t):
    assert InverseTimeDecay(0.1, decay_rate=0.5)(t) == pytest.approx(0.1 / (1 + 0.5 * t), rel=1e-15)


@pytest.mark.parametrize("t", T)
def test_step_decay(t):
    assert StepDecay(0.1, step_size=10, gamma=0.5)(t) == pytest.approx(0.1 * 0.5 ** (t // 10), rel=1e-15)


def test_step_decay_boundaries_and_default_gamma():
    s = StepDecay(1.0, step_size=3)
    assert [s(t) for t in range(7)] == pytest.approx([1, 1, 1, 0.1, 0.1, 0.1, 0.01])
    assert s(2.999) == 1.0 and s(3.0) == pytest.approx(0.1)


@pytest.mark.parametrize("t", T)
def test_exponential_decay(t):
    assert ExponentialDecay(0.1, gamma=0.9)(t) == pytest.approx(0.1 * 0.9 ** t, rel=1e-15)


@pytest.mark.parametrize("t", T)
def test_cosine_decay(t):
    lr0, lr_min, t_max = 0.1, 0.01, 20
    expected = lr_min + (lr0 - lr_min) * (1 + math.cos(math.pi * min(t, t_max) / t_max)) / 2
    assert CosineDecay(lr0, t_max, lr_min)(t) == pytest.approx(expected, rel=1e-15)


def test_cosine_decay_endpoints():
    s = CosineDecay(1.0, t_max=4)
    assert (s(0), s(2), s(4), s(40)) == (1.0, pytest.approx(0.5), 0.0, 0.0)


def test_values_are_python_floats_and_accept_float_t():
    for s in (InverseTimeDecay(1, 1), StepDecay(1, 2), ExponentialDecay(1, 0.5), CosineDecay(1, 4)):
        assert type(s(1)) is float and type(s(1.5)) is float


@pytest.mark.parametrize("make, error, match", [
    (lambda: InverseTimeDecay(-0.1, 1.0), ValueError, r"`lr0` must be a finite number >= 0, got -0.1"),
    (lambda: InverseTimeDecay(0.1, -1.0), ValueError, r"`decay_rate` must be a finite number >= 0, got -1.0"),
    (lambda: InverseTimeDecay("0.1", 1.0), TypeError, r"`lr0` must be a real number, got str '0.1'"),
    (lambda: StepDecay(0.1, 0), ValueError, r"`step_size` must be an integer >= 1, got 0"),
    (lambda: StepDecay(0.1, 2.5), TypeError, r"`step_size` must be an integer, got float 2.5"),
    (lambda: StepDecay(0.1, 2, gamma=0.0), ValueError, r"`gamma` must be a finite number > 0, got 0.0"),
    (lambda: ExponentialDecay(0.1, gamma=-0.5), ValueError, r"`gamma` must be a finite number > 0, got -0.5"),
    (lambda: ExponentialDecay(float("inf"), 0.5), ValueError, r"`lr0` must be a finite number >= 0, got inf"),
    (lambda: CosineDecay(0.1, t_max=0), ValueError, r"`t_max` must be an integer >= 1, got 0"),
    (lambda: CosineDecay(0.1, t_max=True), TypeError, r"`t_max` must be an integer, got bool True"),
    (lambda: CosineDecay(0.1, 10, lr_min=0.2), ValueError, r"`lr_min` must not exceed `lr0`, got lr_min=0.2 > lr0=0.1"),
    (lambda: CosineDecay(0.1, 10, lr_min=-0.1), ValueError, r"`lr_min` must be a finite number >= 0, got -0.1"),
])
def test_argument_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("t, error, match", [
    (-1, ValueError, r"`t` must be a finite number >= 0, got -1.0"),
    (float("nan"), ValueError, r"`t` must be a finite number >= 0, got nan"),
    ("3", TypeError, r"`t` must be a real number, got str '3'"),
])
def test_t_errors(t, error, match):
    with pytest.raises(error, match=match):
        InverseTimeDecay(0.1, 1.0)(t)


@pytest.mark.parametrize("schedule", [InverseTimeDecay(0.1, 0.5), StepDecay(0.1, 10, 0.5),
                                      ExponentialDecay(0.1, 0.9), CosineDecay(0.1, 20, 0.01)])
def test_config_round_trip(schedule):
    config = json.loads(json.dumps(schedule.config()))
    assert config == schedule.get_config()
    for again in (schedules.from_config(config), type(schedule).from_config(config), schedules.get(config),
                  schedules.Schedule.from_config(config)):
        assert type(again) is type(schedule) and again == schedule
        assert [again(t) for t in T] == [schedule(t) for t in T]
    assert repr(schedules.from_config(config)) == repr(schedule)


def test_get_and_registry_errors():
    s = schedules.get("Cosine_Decay", lr0=1.0, t_max=4)
    assert isinstance(s, CosineDecay) and schedules.get(s) is s
    with pytest.raises(ValueError, match="Unknown schedule 'linear'; valid names are 'inverse_time_decay', "
                                         "'step_decay', 'exponential_decay', 'cosine_decay'"):
        schedules.get("linear")
    with pytest.raises(ValueError, match="config is for schedule 'step_decay', not 'cosine_decay'"):
        CosineDecay.from_config(StepDecay(1, 2).config())
    with pytest.raises(ValueError, match="'name' key"):
        schedules.from_config({"lr0": 1})
    with pytest.raises(TypeError, match="must be a schedule name, a config dict or a Schedule"):
        schedules.get(3)
