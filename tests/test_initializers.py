"""Initializers: the scale of each draw, reproducibility, dtypes, name resolution and (de)serialisation."""
import json
import math

import numpy as np
import pytest

from denso import initializers as init

FAN_IN, FAN_OUT = 300, 500  # 150,000 draws: sample statistics are tight
N = FAN_IN * FAN_OUT

UNIFORM = {
    "glorot_uniform": math.sqrt(6 / (FAN_IN + FAN_OUT)),
    "he_uniform": math.sqrt(6 / FAN_IN),
    "lecun_uniform": math.sqrt(3 / FAN_IN),
}
NORMAL = {
    "glorot_normal": math.sqrt(2 / (FAN_IN + FAN_OUT)),
    "he_normal": math.sqrt(2 / FAN_IN),
    "lecun_normal": math.sqrt(1 / FAN_IN),
}


def draw(name, shape=(FAN_IN, FAN_OUT), seed=0, dtype=np.float64):
    return init.get(name)(shape, np.random.default_rng(seed), dtype)


def check_moments(w, std, kurtosis):
    """Mean ≈ 0 and std ≈ target, each within 5 standard errors of the estimate for n draws.

    SE(mean) = std/√n; SE(sample std)/std = √((kurtosis − 1) / 4n) (kurtosis 3 normal, 1.8 uniform).
    """
    n = w.size
    assert abs(w.mean()) < 5 * std / math.sqrt(n)
    rel_se = math.sqrt((kurtosis - 1) / (4 * n))
    assert abs(w.std() / std - 1) < 5 * rel_se


@pytest.mark.parametrize("name,limit", UNIFORM.items())
def test_uniform_initializers_fill_their_interval(name, limit):
    w = draw(name)
    assert w.shape == (FAN_IN, FAN_OUT)
    assert w.min() >= -limit and w.max() <= limit
    # The extremes of 150k uniform draws lie within limit/10^4 of the ends (P(miss) ≈ e^-15).
    assert w.min() < -limit * (1 - 1e-4) and w.max() > limit * (1 - 1e-4)
    check_moments(w, limit / math.sqrt(3), kurtosis=1.8)


@pytest.mark.parametrize("name,std", NORMAL.items())
def test_normal_initializers_have_target_std_and_are_not_truncated(name, std):
    w = draw(name)
    check_moments(w, std, kurtosis=3.0)
    # A plain normal puts 0.27% of draws beyond 3σ (~400 here); Keras's truncated one puts none beyond 2σ.
    beyond = np.mean(np.abs(w) > 3 * std)
    assert abs(beyond - 0.0027) < 5 * math.sqrt(0.0027 / N)


@pytest.mark.parametrize("name,scale", [("he_uniform", math.sqrt(6 / 50)), ("glorot_uniform", math.sqrt(6 / 100))])
def test_bias_shape_uses_n_for_both_fans(name, scale):
    b = draw(name, shape=(50,))
    assert b.shape == (50,)
    assert np.abs(b).max() <= scale


def test_fan_in_and_fan_out_are_not_swapped():
    # he depends on fan_in only: (10, 1000) draws are 10x wider than (1000, 10) draws.
    wide = draw("he_normal", shape=(10, 10000))
    narrow = draw("he_normal", shape=(1000, 100))
    assert wide.std() == pytest.approx(math.sqrt(2 / 10), rel=0.02)
    assert narrow.std() == pytest.approx(math.sqrt(2 / 1000), rel=0.02)


@pytest.mark.parametrize("name", [*UNIFORM, *NORMAL])
def test_same_seed_same_weights_different_seed_different_weights(name):
    a, b, c = draw(name, (20, 30), seed=7), draw(name, (20, 30), seed=7), draw(name, (20, 30), seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_rng_state_advances_between_layers():
    rng = np.random.default_rng(0)
    first, second = init.he_normal((5, 5), rng), init.he_normal((5, 5), rng)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("name", [*UNIFORM, *NORMAL, "zeros", "ones"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, "float32"])
def test_dtype_is_honoured_and_float32_is_the_cast_float64_draw(name, dtype):
    w = draw(name, (8, 4), seed=3, dtype=dtype)
    assert w.dtype == np.dtype(dtype)
    assert w.flags.c_contiguous
    np.testing.assert_array_equal(w, draw(name, (8, 4), seed=3).astype(dtype))


def test_zeros_ones_constant_values():
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(init.zeros((2, 3), rng, np.float32), np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(init.ones((4,), None, np.float64), np.ones(4))
    c = init.constant(0.25)
    np.testing.assert_array_equal(c((3, 2), rng, np.float64), np.full((3, 2), 0.25))
    assert c((3,), rng, np.float32).dtype == np.float32


def test_get_resolves_names_case_insensitively_and_aliases():
    assert init.get("he_normal") is init.he_normal
    assert init.get("HE_NORMAL") is init.he_normal
    assert init.get("HeNormal") is init.he_normal
    assert init.get("kaiming_uniform") is init.he_uniform
    assert init.get("Xavier_Normal") is init.glorot_normal
    assert init.get("Zeros") is init.zeros


def test_get_returns_callables_as_is():
    def mine(shape, rng, dtype):
        return np.full(shape, 3.0, dtype)
    assert init.get(mine) is mine
    c = init.constant(1.5)
    assert init.get(c) is c


def test_get_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown initializer 'he_normol'.*'glorot_uniform'.*'he_normal'"):
        init.get("he_normol")


@pytest.mark.parametrize("bad", [None, 3, 1.5, ["he_normal"]])
def test_get_non_callable_non_string_is_type_error(bad):
    with pytest.raises(TypeError, match="`initializer` must be a name, a callable"):
        init.get(bad)


@pytest.mark.parametrize("name", [*UNIFORM, *NORMAL, "zeros", "ones"])
def test_named_initializers_round_trip_through_json(name):
    data = json.loads(json.dumps(init.serialize(init.get(name))))
    assert data == name
    assert init.deserialize(data) is init.get(name)


def test_serialize_accepts_any_spelling_of_a_name():
    assert init.serialize("Kaiming_Normal") == "he_normal"


def test_constant_round_trips_with_its_value():
    data = json.loads(json.dumps(init.serialize(init.constant(0.1))))
    assert data == {"class_name": "Constant", "config": {"value": 0.1}}
    restored = init.deserialize(data)
    assert restored == init.constant(0.1)
    np.testing.assert_array_equal(restored((2,), None, np.float64), [0.1, 0.1])
    assert init.get(data) == init.constant(0.1)


def test_deserialize_accepts_keras_style_class_names():
    assert init.deserialize({"class_name": "GlorotUniform", "config": {}}) is init.glorot_uniform
    assert init.deserialize({"class_name": "he_normal"}) is init.he_normal


def test_custom_callable_cannot_be_serialized():
    with pytest.raises(ValueError, match=r"cannot serialize the custom initializer .*constant\(value\)"):
        init.serialize(lambda shape, rng, dtype: np.zeros(shape, dtype))


@pytest.mark.parametrize("bad,match", [
    ({"config": {}}, "'class_name'"),
    ({"class_name": "Constant", "config": {}}, r"config must be \{'value': number\}"),
    ({"class_name": "Constant", "config": {"value": "x"}}, "`value` must be a real number"),
    ({"class_name": "he_normal", "config": {"scale": 2}}, "takes no config"),
    ({"class_name": "nope"}, "unknown initializer 'nope'"),
])
def test_deserialize_rejects_malformed_configs(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        init.deserialize(bad)


def test_constant_rejects_non_finite_values():
    with pytest.raises(ValueError, match="`value` must be a finite number, got nan"):
        init.constant(float("nan"))
    with pytest.raises(TypeError, match="`value` must be a real number, got str 'a'"):
        init.constant("a")


@pytest.mark.parametrize("shape", [(0, 3), (3, -1), (2, 3, 4), (), "ab", (2.0, 3)])
def test_bad_shape_is_rejected_with_the_shape_named(shape):
    with pytest.raises(ValueError, match="`shape` must"):
        init.he_normal(shape, np.random.default_rng(0), np.float64)


def test_rng_must_be_a_generator():
    with pytest.raises(TypeError, match=r"`rng` must be a numpy.random.Generator.*got int"):
        init.glorot_uniform((2, 2), 0, np.float64)
    with pytest.raises(TypeError, match="got RandomState"):
        init.glorot_uniform((2, 2), np.random.RandomState(0), np.float64)


@pytest.mark.parametrize("dtype", [np.int32, np.float16, "complex128"])
def test_dtype_must_be_float32_or_float64(dtype):
    with pytest.raises(TypeError, match="`dtype` must be float32 or float64"):
        init.he_uniform((2, 2), np.random.default_rng(0), dtype)


def test_initialize_checks_a_user_callables_output():
    rng = np.random.default_rng(0)
    w = init.initialize(lambda shape, rng, dtype: np.ones(shape), (2, 3), rng, np.float32)
    assert w.dtype == np.float32 and w.shape == (2, 3)
    with pytest.raises(ValueError, match=r"must return an array of shape \(2, 3\), got shape \(3, 2\)"):
        init.initialize(lambda shape, rng, dtype: np.ones((3, 2)), (2, 3), rng, np.float32)
    with pytest.raises(ValueError, match="non-finite"):
        init.initialize(lambda shape, rng, dtype: np.full(shape, np.inf), (2, 3), rng, np.float32)
