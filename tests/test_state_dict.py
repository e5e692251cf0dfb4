"""Sequential.state_dict / load_state_dict: PyTorch's names ("<module index>.weight") and (out, in) layout,
as numpy arrays; no torch needed (tests/test_interop.py checks the keys against torch's own)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import denso


def test_import_denso_imports_no_optional_package():
    """`import denso` (and importing the export/interop modules, and state_dict) leaves onnx, onnxruntime and
    torch unimported: they load only when a graph or module is built."""
    script = ("import sys, denso\n"
              "assert callable(denso.onnx.export) and callable(denso.interop.to_torch)\n"
              "m = denso.Sequential([denso.Dense(2)], input_dim=3); m.state_dict(); m.load_state_dict(m.state_dict())\n"
              "print(sorted(n for n in ('onnx', 'onnxruntime', 'torch') if n in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"  # an editable install logs its rebuild first


# ---- state_dict: no torch needed --------------------------------------------------------------------------------
def numbered_model(dtype="float64"):
    """Dense(relu), noise, Dense(no bias), dropout, Dense: torch modules 0 Linear, 1 ReLU, 2 Linear,
    3 Dropout, 4 Linear, 5 Softmax (once compiled with a cross-entropy)."""
    model = denso.Sequential([denso.Dense(5, activation="relu"), denso.GaussianNoise(0.1),
                              denso.Dense(4, use_bias=False), denso.Dropout(0.2), denso.Dense(3)],
                             input_dim=6, seed=2, dtype=dtype)
    model.compile(denso.optim.Adam(lr=0.01), "categorical_crossentropy")
    return model


def test_state_dict_keys_follow_torch_numbering():
    model = numbered_model()
    sd = model.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "4.weight", "4.bias"]
    w0, b0, w2, w4, b4 = model.get_weights()
    for key, expected in zip(sd, (w0.T, b0, w2.T, w4.T, b4)):
        np.testing.assert_array_equal(sd[key], expected)
        assert sd[key].flags.c_contiguous
    sd["0.weight"][0, 0] += 1.0  # a copy: the model is untouched
    assert model.get_weights()[0][0, 0] == w0[0, 0]


def test_load_state_dict_round_trip_and_errors():
    model, other = numbered_model(), numbered_model()
    other.set_weights([w + 1.0 for w in other.get_weights()])
    model.load_state_dict(other.state_dict())
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    good = other.state_dict()
    with pytest.raises(ValueError, match=r"missing \['4.bias'\], unexpected \['5.bias'\]"):
        model.load_state_dict({**{k: v for k, v in good.items() if k != "4.bias"}, "5.bias": good["4.bias"]})
    with pytest.raises(ValueError, match=r"`state_dict\['0.weight'\]` must have shape \(5, 6\).*got \(6, 5\)"):
        model.load_state_dict({**good, "0.weight": good["0.weight"].T})
    with pytest.raises(ValueError, match=r"`state_dict\['4.bias'\]` must be finite"):
        model.load_state_dict({**good, "4.bias": np.array([0.0, np.nan, 0.0])})
    with pytest.raises(TypeError, match="`state_dict` must be a mapping"):
        model.load_state_dict(list(good.values()))
    with pytest.raises(ValueError, match=r"load_state_dict\(\) needs a built model"):
        denso.Sequential([denso.Dense(2)]).load_state_dict(good)
