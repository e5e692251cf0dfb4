"""PyTorch interop: to_torch / from_torch give the same outputs, state_dict uses torch's names and layout,
and the optimizer state carries over so one more torch step equals one more denso step."""
from __future__ import annotations

import os
import re
import sys

import numpy as np
import pytest

import denso
from conftest import assert_close
from denso import interop
from denso.functional import ACTIVATIONS
from test_state_dict import numbered_model

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
pytestmark = pytest.mark.torch


# ---- torch -----------------------------------------------------------------------------------------------------------


def torch_out(module, x):
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("name", sorted(n for n in ACTIVATIONS if n != "step"))
def test_to_torch_matches_predict_for_every_activation(name, dtype, rng):
    model = denso.Sequential([denso.Dense(10, activation=name, alpha=0.2), denso.Dropout(0.3),
                              denso.Dense(4, activation=name, alpha=0.2)], input_dim=7, seed=1, dtype=dtype)
    module = interop.to_torch(model)
    assert not module.training and all(p.dtype == torch.from_numpy(np.zeros(1, dtype)).dtype
                                       for p in module.parameters())
    x = rng.standard_normal((33, 7)).astype(dtype)
    assert_close(torch_out(module, x), model.predict(x), dtype)
    back = interop.from_torch(module)
    assert back.dtype == model.dtype
    for a, b in zip(back.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert_close(back.predict(x), model.predict(x), dtype)


@pytest.mark.parametrize("loss,last", [("mse", "sigmoid"), ("binary_crossentropy", None),
                                       ("categorical_crossentropy", None), ("categorical_crossentropy", "softmax")])
def test_to_torch_outputs_what_predict_returns(loss, last, rng):
    model = denso.Sequential([denso.Dense(8, activation="tanh"), denso.Dense(3, activation=last)],
                             input_dim=4, seed=0, dtype="float64")
    model.compile("adam", loss)
    module = interop.to_torch(model)
    x = rng.standard_normal((20, 4))
    np.testing.assert_allclose(torch_out(module, x), model.predict(x), rtol=1e-12, atol=1e-12)
    if "crossentropy" in loss:
        assert type(module[-1]).__name__ == ("Sigmoid" if loss.startswith("binary") else "Softmax")
    assert list(module.state_dict()) == list(model.state_dict())


def test_torch_numbering_equals_state_dict():
    model = numbered_model()
    module = interop.to_torch(model)
    assert [type(m).__name__ for m in module] == ["Linear", "ReLU", "Linear", "Dropout", "Linear", "Softmax"]
    torch_sd = module.state_dict()
    assert list(torch_sd) == list(model.state_dict())
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(torch_sd[key].numpy(), value)


def test_load_state_dict_takes_a_torch_state_dict(rng):
    model = numbered_model()
    module = interop.to_torch(numbered_model())
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p))
    model.load_state_dict(module.state_dict())
    x = rng.standard_normal((9, 6))
    np.testing.assert_allclose(model.predict(x), torch_out(module, x), rtol=1e-12, atol=1e-12)


def test_from_torch_builds_the_same_function(dtype, rng):
    nn = torch.nn
    torch_dtype = torch.float64 if dtype == np.float64 else torch.float32
    torch.manual_seed(0)
    def linear(a, b, bias=True):
        return nn.Linear(a, b, bias=bias, dtype=torch_dtype)

    module = nn.Sequential(nn.Identity(), linear(6, 9), nn.LeakyReLU(0.05), nn.Dropout(0.1), linear(9, 8), nn.Tanh(),
                           linear(8, 7, bias=False), nn.Sigmoid(), linear(7, 5), nn.ReLU(), linear(5, 4),
                           nn.Identity(), nn.Softmax(dim=-1)).eval()
    model = interop.from_torch(module, input_dim=6)
    assert model.dtype == dtype and model.loss is None
    assert [getattr(layer, "activation", "dropout") for layer in model.layers] == [
        "leaky_relu", "dropout", "tanh", "sigmoid", "relu", "softmax"]
    x = rng.standard_normal((17, 6)).astype(dtype)
    assert_close(model.predict(x), torch_out(module, x), dtype)
    assert list(model.state_dict()) != list(module.state_dict())  # Identity modules are not renumbered away
    assert_close(torch_out(interop.to_torch(model), x), torch_out(module, x), dtype)


# denso's activation name for each torch module class that maps to one
TORCH_ACTIVATIONS = [("GELU", "gelu"), ("ELU", "elu"), ("SELU", "selu"), ("Softplus", "softplus"),
                     ("SiLU", "swish")]


@pytest.mark.parametrize("module_name,name", TORCH_ACTIVATIONS)
def test_from_torch_newer_activations(module_name, name, rng):
    """Each maps to denso's activation of that name, with the same outputs."""
    module = torch.nn.Sequential(torch.nn.Linear(3, 4, dtype=torch.float64), getattr(torch.nn, module_name)())
    model = interop.from_torch(module)
    x = rng.standard_normal((11, 3)) * 3
    np.testing.assert_allclose(model.predict(x), torch_out(module, x), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(torch_out(interop.to_torch(model), x), torch_out(module, x), rtol=1e-7, atol=1e-9)


def test_from_torch_names_what_it_refuses():
    nn = torch.nn
    cases = [
        (nn.Sequential(nn.Linear(3, 4), nn.Conv1d(1, 1, 1)), r"module '1' \(Conv1d.*is not supported; supported"),
        (nn.Sequential(nn.ReLU(), nn.Linear(3, 4)), r"module '0' \(ReLU\) must follow a Linear"),
        (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Tanh()), r"module '2' \(Tanh\) must follow a Linear"),
        (nn.Sequential(nn.Linear(3, 4), nn.Dropout(), nn.ReLU()), r"module '2' \(ReLU\) must follow a Linear"),
        (nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(-0.1)), "module '1' .*negative negative_slope"),
        (nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=0)), r"module '1' .*dim=0"),
        (nn.Sequential(nn.Linear(3, 4), nn.GELU(approximate="tanh")), "module '1' .*approximate='tanh'"),
        (nn.Sequential(nn.Linear(3, 4), nn.ELU(alpha=-0.5)), "module '1' .*negative alpha \\(-0.5\\)"),
        (nn.Sequential(nn.Linear(3, 4), nn.Linear(5, 2)), "module '1' takes 5 features but the Linear before it gives"),
        (nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2, dtype=torch.float64)), "module '1' is torch.float64"),
        (nn.Sequential(nn.Linear(3, 4, dtype=torch.float16)), "float32 or float64, got torch.float16"),
        (nn.Sequential(nn.Dropout()), "has no Linear layer"),
        (nn.Sequential(nn.Sequential(nn.Linear(3, 4))), r"module '0' \(Sequential"),
    ]
    for module, message in cases:
        with pytest.raises(ValueError, match=message):
            interop.from_torch(module)
    with pytest.raises(TypeError, match="`module` must be a torch.nn.Sequential, got Linear"):
        interop.from_torch(nn.Linear(3, 4))
    with pytest.raises(ValueError, match="`input_dim` must be the first Linear's in_features 3, got 5"):
        interop.from_torch(nn.Sequential(nn.Linear(3, 4)), input_dim=5)


def test_to_torch_refuses_step():
    model = denso.Sequential([denso.Dense(3, activation="step"), denso.Dense(2)], input_dim=2, seed=0)
    with pytest.raises(ValueError, match=r"layer 0 \(Dense\) has activation 'step', which torch.nn has no module"):
        interop.to_torch(model)


# ---- optimizer state --------------------------------------------------------------------------------------------
OPTIMIZERS = {
    "adam": lambda: denso.optim.Adam(lr=0.01),
    "adam_amsgrad_decay": lambda: denso.optim.Adam(lr=0.02, betas=(0.8, 0.99), amsgrad=True, weight_decay=0.01),
    "adamw": lambda: denso.optim.AdamW(lr=0.01, weight_decay=0.1),
    "sgd_nesterov": lambda: denso.optim.SGD(lr=0.05, momentum=0.9, dampening=0.0, nesterov=True, weight_decay=1e-3),
    "sgd_dampened": lambda: denso.optim.SGD(lr=0.05, momentum=0.8, dampening=0.3),
    "sgd_plain": lambda: denso.optim.SGD(lr=0.05),
    "rmsprop_centered": lambda: denso.optim.RMSprop(lr=0.01, momentum=0.5, centered=True, weight_decay=1e-3),
}


def trained(optimizer, loss, rng, steps: int):
    model = denso.Sequential([denso.Dense(8, activation="tanh"), denso.Dense(5, activation="relu", use_bias=False),
                              denso.Dense(3)], input_dim=4, seed=7, dtype="float64")
    model.compile(optimizer, loss)
    x = rng.standard_normal((24, 4))
    y = rng.integers(0, 3, 24) if loss == "categorical_crossentropy" else rng.standard_normal((24, 3))
    if steps:
        model.fit(x, y, epochs=steps // 3, batch_size=8, verbose=0, seed=1)
    return model, x[:10], y[:10]


def torch_loss(module, loss, x, y):
    logits = module[:-1] if isinstance(module[-1], torch.nn.Softmax) else module
    out = logits(torch.from_numpy(x))
    if loss == "categorical_crossentropy":
        return torch.nn.functional.cross_entropy(out, torch.from_numpy(y))
    return torch.nn.functional.mse_loss(out, torch.from_numpy(y))


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "mse"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("steps", [0, 6])
def test_one_more_torch_step_equals_one_more_denso_step(name, loss, steps, rng):
    model, x, y = trained(OPTIMIZERS[name](), loss, rng, steps)
    assert model.steps_trained == steps
    module = interop.to_torch(model)
    optimizer = interop.to_torch_optimizer(model, module)
    assert type(optimizer).__name__ == {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD",
                                        "rmsprop": "RMSprop"}[model.optimizer.name]
    optimizer.zero_grad()
    torch_loss(module, loss, x, y).backward()
    optimizer.step()
    model.fit(x, y, epochs=1, batch_size=len(x), shuffle=False, verbose=0)  # one step on the same batch
    for key, value in model.state_dict().items():
        assert_close(module.state_dict()[key].numpy(), value, np.float64, err_msg=key)
    slots = model.optimizer.state[0]
    for index, layer in ((i, spec.layer) for i, spec in enumerate(denso.torch_layout.torch_modules(model))
                         if spec.kind == "linear"):
        state = optimizer.state[module[index].weight]
        if "step" in state:
            assert int(state["step"]) == slots["step"] == steps + 1
        for slot in model.optimizer.slot_names():
            block = slots[slot][layer.weight_offset:layer.weight_offset + layer.weight.data.size]
            assert_close(state[slot].numpy(), block.reshape(layer.weight.shape).T, np.float64, err_msg=slot)


def test_to_torch_optimizer_refuses_what_torch_cannot_continue(rng):
    model, _, _ = trained(denso.optim.Adam(lr=0.01, epsilon_hat=True), "mse", rng, 3)
    with pytest.raises(ValueError, match="epsilon_hat=True.*no torch.optim form"):
        interop.to_torch_optimizer(model, interop.to_torch(model))
    model, _, _ = trained(denso.optim.Adam(lr=0.01), "mse", rng, 3)
    other = torch.nn.Sequential(torch.nn.Linear(4, 9, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"module\[0\] must be Linear\(4, 8, bias=True\)"):
        interop.to_torch_optimizer(model, other)
    uncompiled = denso.Sequential([denso.Dense(2)], input_dim=3, seed=0)
    with pytest.raises(ValueError, match=r"to_torch_optimizer\(\) needs a compiled model"):
        interop.to_torch_optimizer(uncompiled, interop.to_torch(uncompiled))


def test_missing_torch_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match="pip install torch"):
        interop.to_torch(denso.Sequential([denso.Dense(2)], input_dim=3, seed=0))


def test_readme_export_and_interop_examples_run(tmp_path, monkeypatch, rng):
    """The python blocks of README's "Export and interop" section run as written, in order, on a model."""
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
        section = f.read().split("## Export and interop\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```python\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    assert len(blocks) == 2
    model = denso.Sequential([denso.Dense(8, activation="relu"), denso.Dense(3)], input_dim=4, seed=0)
    model.compile("adam", "categorical_crossentropy")
    model.fit(rng.standard_normal((32, 4)), rng.integers(0, 3, 32), epochs=2, verbose=0)
    monkeypatch.chdir(tmp_path)
    namespace = {"model": model}
    exec(blocks[0], namespace)
    assert_close(namespace["probs"], model.predict(namespace["x"]), np.float32)
    exec(blocks[1], namespace)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    assert_close(namespace["back"].predict(x), model.predict(x), np.float32)
    assert type(namespace["opt"]).__name__ == "Adam"
