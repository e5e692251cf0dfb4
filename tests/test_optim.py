"""Optimizers: trajectories against torch.optim, numpy references of the update rules, the uniform
C++ interface, state save/restore, and every validation error."""
import json

import numpy as np
import pytest

import denso
from denso import _core, optim

DTYPES = [np.float64, np.float32]
RTOL = {np.float64: 1e-6, np.float32: 1e-4}

# (denso class, torch class name, kwargs): every case runs against torch and the numpy reference.
CASES = {
    "sgd": (optim.SGD, "SGD", dict(lr=0.1)),
    "sgd_momentum": (optim.SGD, "SGD", dict(lr=0.05, momentum=0.9)),
    "sgd_dampening": (optim.SGD, "SGD", dict(lr=0.05, momentum=0.9, dampening=0.9)),
    "sgd_nesterov": (optim.SGD, "SGD", dict(lr=0.05, momentum=0.8, nesterov=True)),
    "sgd_weight_decay": (optim.SGD, "SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.1)),
    "rmsprop": (optim.RMSprop, "RMSprop", dict(lr=1e-2)),
    "rmsprop_momentum": (optim.RMSprop, "RMSprop", dict(lr=1e-3, momentum=0.9)),
    "rmsprop_centered": (optim.RMSprop, "RMSprop", dict(lr=1e-3, alpha=0.9, centered=True, momentum=0.5)),
    "rmsprop_weight_decay": (optim.RMSprop, "RMSprop", dict(lr=1e-3, weight_decay=0.1, eps=1e-6)),
    "adam": (optim.Adam, "Adam", dict(lr=1e-2)),
    "adam_amsgrad": (optim.Adam, "Adam", dict(lr=1e-2, betas=(0.8, 0.99), amsgrad=True)),
    "adam_weight_decay": (optim.Adam, "Adam", dict(lr=1e-2, weight_decay=0.1, eps=1e-6)),
    "adamw": (optim.AdamW, "AdamW", dict(lr=1e-2, weight_decay=0.1)),
    "adamw_amsgrad": (optim.AdamW, "AdamW", dict(lr=1e-2, amsgrad=True)),
}


# ---- a small MLP (5-8-3, tanh, softmax cross-entropy) with identical start weights --------------

def mlp_problem(seed=0):
    """Inputs, labels and start weights W1 (5, 8), b1 (8,), W2 (8, 3), b2 (3,) in float64."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 5))
    y = rng.integers(0, 3, size=16)
    weights = [rng.standard_normal((5, 8)) * 0.5, rng.standard_normal(8) * 0.1,
               rng.standard_normal((8, 3)) * 0.5, rng.standard_normal(3) * 0.1]
    return x, y, weights


def denso_trajectory(cls, kwargs, dtype, steps):
    """Parameters after `steps` updates, with gradients from denso's own graph."""
    x, y, weights = mlp_problem()
    x = x.astype(dtype)
    params = [denso.Tensor(w.astype(dtype), requires_grad=True) for w in weights]
    opt = cls(params, **kwargs)
    w1, b1, w2, b2 = params
    for _ in range(steps):
        hidden = denso.dense(x, w1, b1, activation="tanh")
        loss = denso.categorical_crossentropy(denso.dense(hidden, w2, b2), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
    return [p.data for p in params]


def torch_trajectory(torch, torch_cls, kwargs, dtype, steps):
    """The same training with torch tensors (x @ W + b: our W layout, so no transposes) and torch.optim."""
    x, y, weights = mlp_problem()
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    x, y = torch.tensor(x, dtype=tdtype), torch.tensor(y)
    params = [torch.tensor(w, dtype=tdtype, requires_grad=True) for w in weights]
    opt = getattr(torch.optim, torch_cls)(params, **kwargs)
    w1, b1, w2, b2 = params
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny problem: torch's thread pool only adds contention
    try:
        for _ in range(steps):
            logits = torch.tanh(x @ w1 + b1) @ w2 + b2
            torch.nn.functional.cross_entropy(logits, y).backward()
            opt.step()
            opt.zero_grad()
    finally:
        torch.set_num_threads(threads)
    return [p.detach().numpy() for p in params]


def check_optimizer(case, dtype, steps=50):
    """`steps` updates of the MLP by denso and by torch.optim agree on every parameter."""
    torch = pytest.importorskip("torch", reason="torch is the reference for optimizer trajectories")
    torch.manual_seed(0)
    cls, torch_cls, kwargs = CASES[case]
    ours = denso_trajectory(cls, kwargs, dtype, steps)
    ref = torch_trajectory(torch, torch_cls, kwargs, dtype, steps)
    x0 = [w.astype(dtype) for w in mlp_problem()[2]]
    for name, a, b, start in zip(["W1", "b1", "W2", "b2"], ours, ref, x0):
        assert a.dtype == dtype
        assert not np.array_equal(a, start), f"{name} never moved"
        np.testing.assert_allclose(a, b, rtol=RTOL[dtype], atol=RTOL[dtype] * 0.1, err_msg=f"{case} {name}")


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("case", list(CASES))
def test_trajectory_matches_torch(case, dtype):
    check_optimizer(case, dtype)


# ---- numpy references of the update rules (no torch needed) -------------------------------------

def numpy_step(case, p, g, state, t):
    """One update written out from the torch.optim documentation; `state` holds the buffers."""
    _, _, kw = CASES[case]
    lr, wd = kw["lr"], kw.get("weight_decay", 0.0)
    if case.startswith("sgd"):
        mu, tau = kw.get("momentum", 0.0), kw.get("dampening", 0.0)
        g = g + wd * p
        if mu:
            b = state["b"] = g.copy() if t == 1 else mu * state["b"] + (1 - tau) * g
            g = g + mu * b if kw.get("nesterov") else b
        return p - lr * g
    if case.startswith("rmsprop"):
        alpha, eps, mu = kw.get("alpha", 0.99), kw.get("eps", 1e-8), kw.get("momentum", 0.0)
        g = g + wd * p
        v = state["v"] = alpha * state.get("v", 0.0) + (1 - alpha) * g * g
        if kw.get("centered"):
            ga = state["ga"] = alpha * state.get("ga", 0.0) + (1 - alpha) * g
            v = v - ga * ga
        d = np.sqrt(v) + eps
        if mu:
            b = state["b"] = mu * state.get("b", 0.0) + g / d
            return p - lr * b
        return p - lr * g / d
    beta1, beta2 = kw.get("betas", (0.9, 0.999))
    eps = kw.get("eps", 1e-8)
    if case.startswith("adamw"):
        wd = kw.get("weight_decay", 1e-2)
        p = p * (1 - lr * wd)
    else:
        g = g + wd * p
    m = state["m"] = beta1 * state.get("m", 0.0) + (1 - beta1) * g
    v = state["v"] = beta2 * state.get("v", 0.0) + (1 - beta2) * g * g
    if kw.get("amsgrad"):
        v = state["vmax"] = np.maximum(state.get("vmax", 0.0), v)
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


class Param:
    """The minimal parameter object an optimizer accepts: `.data` and `.grad`."""

    def __init__(self, data, grad=None):
        self.data, self.grad = data, grad


def random_grads(shape, dtype, steps, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(dtype) for _ in range(steps)]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("case", list(CASES))
def test_matches_numpy_reference(case, dtype):
    cls, _, kwargs = CASES[case]
    start = np.random.default_rng(0).standard_normal((4, 3))
    param = Param(start.astype(dtype))
    opt = cls([param], **kwargs)
    expected, state = start.copy(), {}
    for t, grad in enumerate(random_grads(start.shape, dtype, 5), start=1):
        param.grad = grad
        opt.step()
        expected = numpy_step(case, expected, grad.astype(np.float64), state, t)
        np.testing.assert_allclose(param.data, expected, rtol=1e-12 if dtype == np.float64 else 2e-5,
                                   atol=1e-14 if dtype == np.float64 else 1e-6, err_msg=f"{case} step {t}")
    assert opt.state[0]["step"] == 5


@pytest.mark.parametrize("case", ["sgd_nesterov", "rmsprop_centered", "adam_amsgrad", "adamw"])
def test_large_parameter_uses_threads_and_matches_one_thread(case):
    """Above the OpenMP threshold the result is identical for any thread count (elementwise pass)."""
    cls, _, kwargs = CASES[case]
    start = np.random.default_rng(0).standard_normal(100_003)
    grads = random_grads(start.shape, np.float64, 3)
    before = denso.get_num_threads()
    results = []
    try:
        for threads in (1, max(2, before)):
            denso.set_num_threads(threads)
            param = Param(start.copy())
            opt = cls([param], **kwargs)
            for grad in grads:
                param.grad = grad
                opt.step()
            results.append(param.data)
    finally:
        denso.set_num_threads(before)
    np.testing.assert_array_equal(results[0], results[1])
    expected, state = start.copy(), {}
    for t, grad in enumerate(grads, start=1):
        expected = numpy_step(case, expected, grad, state, t)
    np.testing.assert_allclose(results[0], expected, rtol=1e-12, atol=1e-14)


def test_sgd_first_momentum_step_is_undampened():
    param = Param(np.zeros(3), np.array([1.0, 2.0, 3.0]))
    opt = optim.SGD([param], lr=1.0, momentum=0.9, dampening=0.5)
    opt.step()
    np.testing.assert_array_equal(opt.state[0]["momentum_buffer"], [1.0, 2.0, 3.0])
    opt.step()  # b = 0.9·b + 0.5·g
    np.testing.assert_allclose(opt.state[0]["momentum_buffer"], [1.4, 2.8, 4.2])


def test_moving_average_momentum_is_sgd_with_dampening_equal_momentum():
    """The docstring's claim: m = b·m + (1 − b)·g after the first step."""
    grads = random_grads(5, np.float64, 4)
    param = Param(np.zeros(5))
    opt = optim.SGD([param], lr=0.1, momentum=0.7, dampening=0.7)
    m = None
    for g in grads:
        param.grad = g
        opt.step()
        m = g.copy() if m is None else 0.7 * m + 0.3 * g
    np.testing.assert_allclose(opt.state[0]["momentum_buffer"], m, rtol=1e-13)
    assert "SGD(momentum=β, dampening=β)" in optim.SGD.__doc__


def test_adam_eps_goes_after_bias_correction():
    """Step 1 with g: m̂ = g, v̂ = g², so the update is lr·g/(|g| + eps) whatever the betas."""
    param = Param(np.zeros(2), np.array([1e-3, -2.0]))
    optim.Adam([param], lr=0.5, betas=(0.5, 0.5), eps=1e-3).step()
    np.testing.assert_allclose(param.data, -0.5 * np.array([1e-3, -2.0]) / (np.array([1e-3, 2.0]) + 1e-3))


def test_adamw_decay_is_decoupled_from_the_moments():
    param = Param(np.full(2, 2.0), np.zeros(2))
    opt = optim.AdamW([param], lr=0.1, weight_decay=0.5)
    opt.step()  # zero gradient: only θ·(1 − lr·wd) acts, the moments stay zero
    np.testing.assert_allclose(param.data, 2.0 * (1 - 0.05))
    np.testing.assert_array_equal(opt.state[0]["exp_avg"], 0.0)


# ---- the uniform interface the compiled plan uses ------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("case", list(CASES))
def test_uniform_optimizer_update_is_bit_identical(case, dtype):
    cls, _, kwargs = CASES[case]
    start = np.random.default_rng(0).standard_normal(50).astype(dtype)
    param = Param(start.copy())
    opt = cls([param], **kwargs)
    config = _core.OptimizerConfig(**_fields(opt.native_config()))  # a copy: step() keeps its own
    assert _core.optimizer_slot_count(config) == opt.slot_count() == len(opt.slot_buffers(0))
    flat, slots = start.copy(), [np.zeros_like(start) for _ in range(opt.slot_count())]
    for t, grad in enumerate(random_grads(start.shape, dtype, 4), start=1):
        param.grad = grad
        opt.step()
        _core.optimizer_update(config, t, flat, grad, slots)
    np.testing.assert_array_equal(flat, param.data)
    for mine, theirs in zip(slots, opt.slot_buffers(0)):
        np.testing.assert_array_equal(mine, theirs)


CONFIG_FIELDS = ("kind", "lr", "momentum", "dampening", "alpha", "eps", "beta1", "beta2", "weight_decay",
                 "nesterov", "centered", "amsgrad", "decoupled_weight_decay")


def _fields(config) -> dict:
    return {name: getattr(config, name) for name in CONFIG_FIELDS}


def test_native_config_carries_the_hyperparameters_and_the_current_lr():
    adamw = optim.AdamW(lr=0.1, weight_decay=0.2, betas=(0.8, 0.9), amsgrad=True)
    config = adamw.native_config()
    assert (config.kind, config.decoupled_weight_decay, config.weight_decay) == (_core.OptimizerKind.adam, True, 0.2)
    assert (config.beta1, config.beta2, config.amsgrad, config.lr) == (0.8, 0.9, True, 0.1)
    assert repr(config).startswith("OptimizerConfig(kind='adam', lr=0.1,")
    adamw.lr = 0.05
    assert adamw.native_config().lr == 0.05
    sgd = optim.SGD(lr=0.3, momentum=0.9, nesterov=True).native_config()
    assert (sgd.kind, sgd.momentum, sgd.nesterov, sgd.dampening) == (_core.OptimizerKind.sgd, 0.9, True, 0.0)
    rms = optim.RMSprop(lr=0.3, alpha=0.5, centered=True).native_config()
    assert (rms.kind, rms.alpha, rms.centered) == (_core.OptimizerKind.rmsprop, 0.5, True)


def test_config_kind_is_checked_on_every_write():
    config = _core.OptimizerConfig("sgd", 0.1)
    with pytest.raises(ValueError, match="`kind` is not a valid kind value: got 7"):
        config.kind = _core.OptimizerKind(7)
    assert repr(config).startswith("OptimizerConfig(kind='sgd'")
    config.kind = "adam"
    assert config.kind == _core.OptimizerKind.adam


@pytest.mark.parametrize("kwargs, count, names", [
    (dict(kind="sgd", lr=0.1), 0, ()),
    (dict(kind="sgd", lr=0.1, momentum=0.9), 1, ("momentum_buffer",)),
    (dict(kind="rmsprop", lr=0.1), 1, ("square_avg",)),
    (dict(kind="rmsprop", lr=0.1, centered=True, momentum=0.9), 3, ("square_avg", "grad_avg", "momentum_buffer")),
    (dict(kind="rmsprop", lr=0.1, momentum=0.9), 2, ("square_avg", "momentum_buffer")),
    (dict(kind="adam", lr=0.1), 2, ("exp_avg", "exp_avg_sq")),
    (dict(kind="adam", lr=0.1, amsgrad=True), 3, ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")),
])
def test_slot_layout(kwargs, count, names):
    assert _core.optimizer_slot_count(_core.OptimizerConfig(**kwargs)) == count
    kind = kwargs.pop("kind")
    cls = {"sgd": optim.SGD, "rmsprop": optim.RMSprop, "adam": optim.Adam}[kind]
    assert cls(**kwargs).slot_names() == names


# ---- parameters, gradients and state -------------------------------------------------------------

def test_tensor_parameters_are_updated_in_place():
    weight = denso.Tensor(np.ones((2, 3)), requires_grad=True)
    data = weight.data
    opt = optim.SGD([weight], lr=0.5)
    (weight * weight).sum().backward()
    opt.step()
    assert weight.data is data
    np.testing.assert_array_equal(weight.data, 0.0)  # 1 − 0.5·2


def test_param_without_grad_is_skipped_and_keeps_its_step_count():
    a, b = Param(np.ones(2), np.ones(2)), Param(np.ones(2))
    opt = optim.Adam([a, b], lr=0.1)
    opt.step()
    np.testing.assert_array_equal(b.data, 1.0)
    assert [s["step"] for s in opt.state] == [1, 0]


def test_zero_grad_in_place_or_to_none():
    grad = np.ones(3)
    param = Param(np.ones(3), grad)
    opt = optim.SGD([param], lr=0.1)
    opt.zero_grad()
    assert param.grad is grad and not grad.any()
    opt.zero_grad(set_to_none=True)
    assert param.grad is None
    opt.zero_grad()  # a missing gradient stays missing


def test_state_is_allocated_at_bind_in_the_param_dtype():
    param = Param(np.ones((2, 3), dtype=np.float32))
    opt = optim.Adam(lr=0.1, amsgrad=True)
    assert opt.params is None
    assert opt.bind([param]) is opt
    for buf in opt.slot_buffers(0):
        assert buf.dtype == np.float32 and buf.shape == (2, 3) and buf.flags.c_contiguous and not buf.any()


def test_keras_style_late_binding():
    opt = optim.get("adam", lr=1e-2)
    with pytest.raises(ValueError, match=r"Adam.step\(\) needs parameters: .*bind\(params\)"):
        opt.step()
    param = Param(np.ones(2), np.ones(2))
    opt.bind(iter([param]))  # any iterable
    opt.step()
    assert opt.state[0]["step"] == 1


def test_lr_is_settable_and_used_by_the_next_step():
    param = Param(np.zeros(1), np.ones(1))
    opt = optim.SGD([param], lr=1.0)
    opt.lr = 0.25
    opt.step()
    np.testing.assert_array_equal(param.data, [-0.25])
    assert opt.config()["lr"] == 0.25


def test_step_returns_the_closure_loss():
    param = Param(np.zeros(1), np.ones(1))
    assert optim.SGD([param], lr=1.0).step(lambda: 3.5) == 3.5


@pytest.mark.parametrize("case", list(CASES))
def test_state_dict_round_trip_resumes_bit_identically(case):
    cls, _, kwargs = CASES[case]
    grads = random_grads((3, 4), np.float64, 12)
    param = Param(np.random.default_rng(0).standard_normal((3, 4)))
    opt = cls([param], **kwargs)
    for g in grads[:6]:
        param.grad = g
        opt.step()
    saved_params, saved = param.data.copy(), opt.state_dict()
    opt.lr = opt.lr / 2  # a schedule changes lr; the saved value must come back
    saved["config"] = json.loads(json.dumps(saved["config"]))  # configs survive JSON
    for g in grads[6:]:
        param.grad = g
        opt.step()

    resumed = Param(saved_params.copy())
    fresh = optim.get(saved["config"]).bind([resumed])
    fresh.load_state_dict(saved)
    fresh.lr = opt.lr
    for g in grads[6:]:
        resumed.grad = g
        fresh.step()
    np.testing.assert_array_equal(resumed.data, param.data)
    assert fresh.state[0]["step"] == opt.state[0]["step"] == 12


def test_state_dict_holds_copies_and_load_keeps_the_buffers():
    param = Param(np.ones(3), np.ones(3))
    opt = optim.Adam([param], lr=0.1)
    opt.step()
    saved = opt.state_dict()
    buffers = opt.slot_buffers(0)
    opt.step()
    assert saved["state"][0]["step"] == 1 and not np.array_equal(saved["state"][0]["exp_avg"], buffers[0])
    opt.load_state_dict(saved)
    assert all(a is b for a, b in zip(opt.slot_buffers(0), buffers))  # views held by a plan stay valid
    np.testing.assert_array_equal(buffers[0], saved["state"][0]["exp_avg"])


def test_load_state_dict_errors():
    param = Param(np.ones(3), np.ones(3))
    opt = optim.Adam([param], lr=0.1)
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="saved from a 'adam' optimizer, this is 'sgd'"):
        optim.SGD([Param(np.ones(3))]).load_state_dict(saved)
    with pytest.raises(ValueError, match="amsgrad: saved False vs True"):
        optim.Adam([Param(np.ones(3))], amsgrad=True).load_state_dict(saved)
    with pytest.raises(ValueError, match="holds state for 1 parameters, this optimizer has 2"):
        optim.Adam([Param(np.ones(3)), Param(np.ones(3))]).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"state\[0\]\['exp_avg'\] must have shape \(4,\)"):
        optim.Adam([Param(np.ones(4))]).load_state_dict(saved)
    with pytest.raises(ValueError, match="keys 'name', 'config' and 'state'"):
        opt.load_state_dict({"state": []})
    with pytest.raises(ValueError, match=r"load_state_dict\(\) needs parameters"):
        optim.Adam().load_state_dict(saved)


def test_unbound_state_dict_round_trip_restores_lr():
    saved = optim.Adam(lr=0.1).state_dict()
    assert saved == {"name": "adam", "config": optim.Adam(lr=0.1).config(), "state": []}
    fresh = optim.Adam(lr=0.5)
    fresh.load_state_dict(saved)
    assert fresh.lr == 0.1 and fresh.params is None


# ---- validation --------------------------------------------------------------------------------

@pytest.mark.parametrize("make, match", [
    (lambda: optim.SGD(lr=-0.1), r"`lr` must be a finite number >= 0, got -0.1"),
    (lambda: optim.Adam(lr=float("nan")), r"`lr` must be a finite number >= 0, got nan"),
    (lambda: optim.SGD(lr=0.1, momentum=-0.5), r"`momentum` must be a finite number >= 0, got -0.5"),
    (lambda: optim.SGD(lr=0.1, dampening=-1), r"`dampening` must be a finite number >= 0, got -1.0"),
    (lambda: optim.SGD(lr=0.1, nesterov=True), r"`nesterov=True` requires `momentum` > 0 .*momentum=0.0"),
    (lambda: optim.SGD(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     r"`nesterov=True` requires .* `dampening` = 0, got momentum=0.9, dampening=0.1"),
    (lambda: optim.SGD(lr=0.1, weight_decay=-1e-4), r"`weight_decay` must be a finite number >= 0, got -0.0001"),
    (lambda: optim.RMSprop(alpha=-0.1), r"`alpha` must be a finite number >= 0, got -0.1"),
    (lambda: optim.RMSprop(eps=-1e-8), r"`eps` must be a finite number >= 0, got -1e-08"),
    (lambda: optim.RMSprop(momentum=-1), r"`momentum` must be a finite number >= 0, got -1.0"),
    (lambda: optim.RMSprop(weight_decay=-1), r"`weight_decay` must be a finite number >= 0"),
    (lambda: optim.Adam(betas=(1.0, 0.999)), r"`betas\[0\]` must be a finite number in \[0, 1\), got 1.0"),
    (lambda: optim.Adam(betas=(0.9, -0.1)), r"`betas\[1\]` must be a finite number in \[0, 1\), got -0.1"),
    (lambda: optim.Adam(betas=(0.9,)), r"`betas` must be a pair \(beta1, beta2\), got \(0.9,\)"),
    (lambda: optim.Adam(eps=-1.0), r"`eps` must be a finite number >= 0, got -1.0"),
    (lambda: optim.Adam(weight_decay=-1.0), r"`weight_decay` must be a finite number >= 0, got -1.0"),
    (lambda: optim.AdamW(weight_decay=-1.0), r"`weight_decay` must be a finite number >= 0, got -1.0"),
])
def test_hyperparameter_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_lr_setter_and_types_are_validated():
    opt = optim.SGD(lr=0.1)
    with pytest.raises(ValueError, match="`lr` must be a finite number >= 0, got -1.0"):
        opt.lr = -1
    with pytest.raises(TypeError, match="`lr` must be a real number, got str '0.1'"):
        opt.lr = "0.1"
    with pytest.raises(TypeError, match="`momentum` must be a real number, got bool True"):
        optim.SGD(momentum=True)
    with pytest.raises(AttributeError, match="`momentum` is fixed when the optimizer is created"):
        opt.momentum = 0.9
    assert opt.lr == 0.1


@pytest.mark.parametrize("params, error, match", [
    (0.01, TypeError, r"`params` must be an iterable of parameters, got float 0.01; .*pass lr=\.\.\."),
    (np.ones(3), TypeError, r"`params` must be an iterable of parameters \(objects with .data and .grad\)"),
    (Param(np.ones(3)), TypeError, r"`params` must be an iterable of parameters"),
    ([], ValueError, r"`params` is empty"),
    ([np.ones(3)], TypeError, r"params\[0\] must have .data and .grad attributes \(e.g. a denso.Tensor\), got ndarray"),
    ([object()], TypeError, r"params\[0\] must have .data and .grad attributes"),
    ([Param(np.ones(3, dtype=np.float16))], TypeError, r"params\[0\].data must be a float32 or float64 .*float16"),
    ([Param(np.ones(3, dtype=np.int64))], TypeError, r"params\[0\].data must be .* got dtype int64"),
    ([Param([1.0, 2.0])], TypeError, r"params\[0\].data must be .* numpy array, got list"),
    ([Param(np.ones((3, 4))[:, ::2])], ValueError, r"params\[0\].data must be C-contiguous"),
    ([Param(np.ones((3, 4)).T)], ValueError, r"params\[0\].data must be C-contiguous"),
])
def test_bad_params(params, error, match):
    with pytest.raises(error, match=match):
        optim.SGD(params, lr=0.1)


def test_duplicate_and_readonly_params():
    p = Param(np.ones(3))
    with pytest.raises(ValueError, match=r"holds the same parameter twice \(params\[1\]\)"):
        optim.SGD([p, p])
    frozen = np.ones(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match=r"params\[0\].data must be writeable"):
        optim.SGD([Param(frozen)])


@pytest.mark.parametrize("grad, error, match", [
    (np.ones(4), ValueError, r"params\[0\].grad must have the parameter's shape \(2, 2\), got \(4,\)"),
    (np.ones((2, 2), dtype=np.float32), TypeError, r"params\[0\].grad must have the parameter's dtype float64"),
    (np.ones((2, 4))[:, ::2], ValueError, r"params\[0\].grad must be C-contiguous"),
    ([[1.0, 1.0], [1.0, 1.0]], TypeError, r"params\[0\].grad must be a numpy array or None, got list"),
])
def test_bad_grads(grad, error, match):
    param = Param(np.ones((2, 2)), grad)
    opt = optim.Adam([param])
    with pytest.raises(error, match=match):
        opt.step()
    assert opt.state[0]["step"] == 0


def test_binding_checks():
    p, g, m, v = (np.ones(4) for _ in range(4))
    adam = _core.OptimizerConfig("adam", 0.1)
    with pytest.raises(ValueError, match="`slots` must hold 3 state buffers for this config, got 2"):
        _core.optimizer_update(_core.OptimizerConfig("adam", 0.1, amsgrad=True), 1, p, g, [m, v])
    with pytest.raises(ValueError, match=r"`slots\[0\]` must hold as many values as `param` of shape \(4,\), "
                                         r"got shape \(3,\)"):
        _core.optimizer_update(adam, 1, p, g, [np.ones(3), v])
    with pytest.raises(ValueError, match=r"`slots\[1\]` must not share memory with `param`"):
        _core.optimizer_update(adam, 1, p, g, [m, p])
    with pytest.raises(TypeError, match="`grad` must have dtype float64"):
        _core.optimizer_update(adam, 1, p, g.astype(np.float32), [m, v])
    with pytest.raises(TypeError, match="`param` must have dtype float32 or float64, got int64"):
        _core.optimizer_update(_core.OptimizerConfig("sgd", 0.1), 1, np.ones(4, dtype=np.int64), g, [])
    with pytest.raises(TypeError, match="`slots\\[0\\]` must be a numpy array, got NoneType"):
        _core.optimizer_update(_core.OptimizerConfig("sgd", 0.1, momentum=0.9), 1, p, g, [None])
    with pytest.raises(ValueError, match="`step` counts updates from 1, got 0"):
        _core.optimizer_update(adam, 0, p, g, [m, v])
    with pytest.raises(ValueError, match="`param` must be C-contiguous"):
        _core.optimizer_update(_core.OptimizerConfig("sgd", 0.1), 1, np.ones(8)[::2], g, [])
    readonly = np.ones(4)
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="`param` is updated in place and must be writeable"):
        _core.optimizer_update(_core.OptimizerConfig("sgd", 0.1), 1, readonly, g, [])
    with pytest.raises(ValueError, match="`slots` must hold 2 state buffers for this config, got 1"):
        _core.optimizer_update(adam, 1, p, g, [m])
    with pytest.raises(ValueError, match="`kind` must be one of 'sgd', 'rmsprop', 'adam', got 'adamw'"):
        _core.OptimizerConfig("adamw", 0.1)


def test_any_ndim_is_treated_as_flat():
    p, g = np.ones((2, 3, 4)), np.full((2, 3, 4), 2.0)
    _core.optimizer_update(_core.OptimizerConfig("sgd", 0.5), 1, p, g.reshape(24), [])
    np.testing.assert_array_equal(p, 0.0)


# ---- get() and config --------------------------------------------------------------------------

@pytest.mark.parametrize("name, cls", [("sgd", optim.SGD), ("SGD", optim.SGD), ("rmsprop", optim.RMSprop),
                                       ("RMSprop", optim.RMSprop), ("Adam", optim.Adam), ("ADAMW", optim.AdamW),
                                       (" adamw ", optim.AdamW)])
def test_get_by_name(name, cls):
    opt = optim.get(name, lr=0.5)
    assert type(opt) is cls and opt.lr == 0.5 and opt.params is None


def test_get_instance_config_and_errors():
    adam = optim.Adam(lr=0.1)
    assert optim.get(adam) is adam
    with pytest.raises(ValueError, match="Unknown optimizer 'adagrad'; valid names are 'sgd', 'rmsprop', 'adam', 'adamw'"):
        optim.get("adagrad")
    with pytest.raises(TypeError, match="Optimizer instance and keyword arguments"):
        optim.get(adam, lr=0.1)
    with pytest.raises(TypeError, match="must be an optimizer name, a config dict or an Optimizer, got int"):
        optim.get(3)
    with pytest.raises(ValueError, match="'name' key"):
        optim.from_config({"lr": 0.1})


@pytest.mark.parametrize("case", list(CASES))
def test_config_round_trip_through_json(case):
    cls, _, kwargs = CASES[case]
    opt = cls(**kwargs)
    config = json.loads(json.dumps(opt.config()))
    again = optim.get(config)
    assert type(again) is cls and again.config() == opt.config()
    assert repr(again.native_config()) == repr(opt.native_config())
    assert repr(again) == repr(opt)


def test_adam_epsilon_hat_adds_eps_before_the_bias_correction():
    """Keras's / scikit-learn's form: θ ← θ − lr·sqrt(1 − β2^t)/(1 − β1^t) · m/(sqrt(v) + eps)."""
    rng = np.random.default_rng(3)
    theta = rng.standard_normal(20)
    param = Param(theta.copy())
    opt = optim.Adam([param], lr=0.1, betas=(0.8, 0.9), eps=1e-3, epsilon_hat=True)
    m = v = np.zeros(20)
    for t in range(1, 5):
        g = rng.standard_normal(20)
        param.grad = g.copy()
        opt.step()
        m, v = 0.8 * m + 0.2 * g, 0.9 * v + 0.1 * g * g
        theta = theta - 0.1 * np.sqrt(1 - 0.9 ** t) / (1 - 0.8 ** t) * m / (np.sqrt(v) + 1e-3)
    np.testing.assert_allclose(param.data, theta, rtol=1e-13, atol=1e-15)
    assert opt.config()["epsilon_hat"] is True and optim.get(opt.config()).epsilon_hat is True
    assert opt.native_config().epsilon_hat and not optim.Adam(lr=0.1).native_config().epsilon_hat
