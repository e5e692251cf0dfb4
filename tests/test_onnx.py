"""ONNX export: onnxruntime running the exported graph gives what `predict` gives, for every activation
denso's registry offers and every loss kind, float32 and float64, at batch 1, 7 and 1024."""
from __future__ import annotations

import math
import sys

import numpy as np
import pytest

import denso
from conftest import assert_close
from denso.functional import ACTIVATIONS

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install 'denso[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")
denso_onnx = pytest.importorskip("denso.onnx")

BATCHES = (1, 7, 1024)


def session(proto):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # a shared test machine
    try:
        return ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime lacks some double kernels (Erf): valid ONNX it cannot run
        double = proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
        if double and "NOT_IMPLEMENTED" in str(exc):
            pytest.skip(f"onnxruntime {ort.__version__} has no double kernel for an op of this graph: "
                        f"{str(exc)[:160]}")
        raise


def run(proto, x):
    return session(proto).run(["output"], {"input": x})[0]


def inputs(rng, n, width, dtype):
    return rng.standard_normal((n, width)).astype(dtype)


def assert_matches_predict(model, rng, batches=BATCHES):
    proto = denso_onnx.to_proto(model)
    sess = session(proto)
    for n in batches:
        x = inputs(rng, n, model.input_dim, model.dtype)
        got = sess.run(["output"], {"input": x})[0]
        assert got.dtype == model.dtype and got.shape == (n, model.output_dim)
        assert_close(got, model.predict(x), model.dtype, err_msg=f"batch {n}")


@pytest.mark.parametrize("name", sorted(n for n in ACTIVATIONS if n != "step"))
def test_every_activation_matches_predict(name, dtype, rng):
    model = denso.Sequential([denso.Dense(16, activation=name, alpha=0.2), denso.Dense(4, activation=name, alpha=0.2)],
                             input_dim=9, seed=3, dtype=dtype)
    assert_matches_predict(model, rng)


def test_step_matches_predict_away_from_the_threshold(dtype, rng):
    """step flips on the sign of x·W + b: compare where that sign does not hinge on rounding."""
    model = denso.Sequential([denso.Dense(12, activation="step")], input_dim=9, seed=4, dtype=dtype)
    sess = session(denso_onnx.to_proto(model))
    w, b = (p.astype(np.float64) for p in model.get_weights())
    for n in BATCHES:
        x = inputs(rng, n, 9, dtype)
        clear = np.abs(x.astype(np.float64) @ w + b) > 1e-3
        assert clear.mean() > 0.99
        got = sess.run(["output"], {"input": x})[0]
        np.testing.assert_array_equal(got[clear], model.predict(x)[clear])
        assert set(np.unique(got)) <= {0.0, 1.0}


def test_step_is_greater_than_zero_cast(dtype):
    """A documented op pair: Cast(Greater(x, 0)), so step(0) = 0 as in denso."""
    model = denso.Sequential([denso.Dense(3, activation="step")], input_dim=3, seed=0, dtype=dtype)
    model.set_weights([np.eye(3), np.zeros(3)])
    x = np.array([[-1.0, 0.0, 2.0], [0.5, -0.0, -3.0]], dtype=dtype)
    np.testing.assert_array_equal(run(denso_onnx.to_proto(model), x), [[0, 0, 1], [1, 0, 0]])
    np.testing.assert_array_equal(model.predict(x), [[0, 0, 1], [1, 0, 0]])
    assert [n.op_type for n in denso_onnx.to_proto(model).graph.node] == ["Gemm", "Greater", "Cast"]


def test_every_registry_activation_has_an_onnx_spelling():
    """Every name denso accepts, aliases included ("silu", "linear"), maps to its canonical entry; the
    entries' values are checked against formulas in test_activation_table_entry_matches_its_formula."""
    from denso.functional import get_activation
    for name in ACTIVATIONS:
        assert denso_onnx.activation_ops(name) is denso_onnx.ACTIVATION_OPS[get_activation(name).name], name
    assert set(denso_onnx.ACTIVATION_OPS) == {get_activation(n).name for n in ACTIVATIONS}
    with pytest.raises(ValueError, match="unknown activation"):
        denso_onnx.activation_ops("mish")


LOSS_CASES = [("mse", "tanh", False), ("mse", None, False),
              ("binary_crossentropy", None, False), ("binary_crossentropy", "sigmoid", False),
              ("categorical_crossentropy", None, False), ("categorical_crossentropy", "softmax", False),
              ("categorical_crossentropy", None, True), ("sparse_categorical_crossentropy", "softmax", True)]


@pytest.mark.parametrize("loss,last,labels", LOSS_CASES, ids=lambda v: str(v))
def test_every_loss_kind_matches_predict(loss, last, labels, dtype, rng):
    model = denso.Sequential([denso.Dense(12, activation="relu"), denso.Dense(3, activation=last)],
                             input_dim=6, seed=5, dtype=dtype)
    model.compile(denso.optim.Adam(lr=0.01), loss)
    x = inputs(rng, 64, 6, dtype)
    if labels:
        y = rng.integers(0, 3, 64)
    elif loss == "mse":
        y = rng.standard_normal((64, 3))
    elif loss == "binary_crossentropy":
        y = (rng.random((64, 3)) > 0.5).astype(float)
    else:
        y = np.eye(3)[rng.integers(0, 3, 64)]
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert_matches_predict(model, rng)
    doc = denso_onnx.to_proto(model).graph.doc_string
    if "crossentropy" in loss:
        expected = "sigmoid" if loss.startswith("binary") else "softmax"
        assert f"{expected} probabilities" in doc and "logits" in doc
        out = run(denso_onnx.to_proto(model), inputs(rng, 5, 6, dtype))
        if expected == "softmax":
            assert_close(out.sum(axis=1), np.ones(5), dtype)
        assert out.min() >= 0 and out.max() <= 1
    else:
        assert "the last Dense layer's output" in doc


def test_dense_without_bias_is_a_lone_matmul(rng):
    model = denso.Sequential([denso.Dense(5, use_bias=False, activation="relu"), denso.Dense(3, use_bias=False)],
                             input_dim=4, seed=0)
    proto = denso_onnx.to_proto(model)
    assert [n.op_type for n in proto.graph.node] == ["MatMul", "Relu", "MatMul"]
    assert sorted(i.name for i in proto.graph.initializer) == ["layer0.weight", "layer1.weight"]
    assert_matches_predict(model, rng)


def test_gemm_takes_denso_weights_untransposed():
    model = denso.Sequential([denso.Dense(3)], input_dim=2, seed=0, dtype="float64")
    gemm, = denso_onnx.to_proto(model).graph.node
    assert gemm.op_type == "Gemm" and not any(a.name in ("transA", "transB") and a.i for a in gemm.attribute)
    weight = {i.name: onnx.numpy_helper.to_array(i) for i in denso_onnx.to_proto(model).graph.initializer}
    np.testing.assert_array_equal(weight["layer0.weight"], model.get_weights()[0])  # (in, out), as denso keeps it


def test_dropout_and_noise_leave_no_node(dtype, rng):
    plain = denso.Sequential([denso.Dense(8, activation="tanh"), denso.Dense(2)], input_dim=5, seed=1, dtype=dtype)
    noisy = denso.Sequential([denso.GaussianNoise(0.5), denso.Dense(8, activation="tanh"), denso.Dropout(0.5),
                              denso.Dense(2), denso.Dropout(0.2)], input_dim=5, seed=1, dtype=dtype)
    noisy.set_weights(plain.get_weights())
    ops = [[n.op_type for n in denso_onnx.to_proto(m).graph.node] for m in (plain, noisy)]
    assert ops[0] == ops[1] == ["Gemm", "Tanh", "Gemm"]
    assert_matches_predict(noisy, rng)


def test_file_pins_ir_version_opset_names_and_dynamic_batch(tmp_path):
    model = denso.Sequential([denso.Dense(4, activation="relu"), denso.Dense(2)], input_dim=3, seed=0)
    path = tmp_path / "model.onnx"
    returned = model.to_onnx(path, opset=17)
    loaded = onnx.load(str(path))
    assert loaded == returned
    onnx.checker.check_model(loaded, full_check=True)
    assert loaded.ir_version == 8  # the oldest IR carrying opset 17, not the installed onnx's default
    assert [(o.domain, o.version) for o in loaded.opset_import] == [("", 17)]
    (inp,), (out,) = loaded.graph.input, loaded.graph.output
    assert (inp.name, out.name) == ("input", "output")
    for value, width in ((inp, 3), (out, 2)):
        dims = value.type.tensor_type.shape.dim
        assert dims[0].dim_param == "batch" and dims[1].dim_value == width
        assert value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert loaded.producer_name == "denso" and "Output 'output'" in loaded.graph.doc_string


def test_float64_model_exports_doubles(tmp_path):
    model = denso.Sequential([denso.Dense(2)], input_dim=3, seed=0, dtype="float64")
    proto = denso_onnx.export(model, tmp_path / "model.onnx")
    assert onnx.load(str(tmp_path / "model.onnx")) == proto
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    assert {i.data_type for i in proto.graph.initializer} == {onnx.TensorProto.DOUBLE}


@pytest.mark.parametrize("opset", [13, 17, 20])
def test_opsets_carry_their_oldest_ir_version(opset, rng):
    model = denso.Sequential([denso.Dense(4, activation="sigmoid"), denso.Dense(3, activation="softmax")],
                             input_dim=3, seed=0)
    proto = denso_onnx.to_proto(model, opset=opset)
    oldest = min(ir for _, ir, op, *_ in onnx.helper.VERSION_TABLE if op >= opset)
    assert proto.ir_version == oldest and proto.opset_import[0].version == opset
    x = inputs(rng, 7, 3, np.float32)
    assert_close(run(proto, x), model.predict(x), np.float32)


# ---- the activation table itself, against numpy references (covers entries whose kernels land later) -----------
def _erf(x):
    return np.vectorize(math.erf)(x)


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


REFERENCES = {
    "gelu": lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
    "elu": lambda x: np.where(x > 0, x, 0.3 * np.expm1(np.minimum(x, 0))),  # alpha 0.3, as activation_graph passes
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0))),
    "softplus": lambda x: np.logaddexp(0.0, x),
    "swish": lambda x: x / (1 + np.exp(-x)),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.3 * x),
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "softmax": _softmax,
    "step": lambda x: (x > 0).astype(float),
    "identity": lambda x: x,
}


def activation_graph(name, dtype, opset):
    """A graph input → ACTIVATION_OPS[name] → output, built with the exporter's own builder."""
    g = denso_onnx._GraphBuilder(onnx, dtype, opset)
    out = denso_onnx.ACTIVATION_OPS[name](g, "input", 0.3)
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    if out == "input":
        g.nodes.append(onnx.helper.make_node("Identity", ["input"], ["output"]))
    else:
        g.nodes[-1].output[0] = "output"
    graph = onnx.helper.make_graph(g.nodes, name, [onnx.helper.make_tensor_value_info("input", elem, ["n", 6])],
                                   [onnx.helper.make_tensor_value_info("output", elem, ["n", 6])], g.initializers)
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   ir_version=denso_onnx.ir_version_for(opset, onnx))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def test_reference_table_covers_the_exporter():
    assert set(REFERENCES) == set(denso_onnx.ACTIVATION_OPS)


@pytest.mark.parametrize("opset", [17, 20])
@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_activation_table_entry_matches_its_formula(name, opset, dtype, rng):
    x = np.concatenate([rng.standard_normal((40, 6)) * 4, np.linspace(-30, 30, 60).reshape(10, 6)]).astype(dtype)
    x[0, :3] = 0.0
    got = run(activation_graph(name, dtype, opset), x)
    assert got.dtype == dtype
    assert_close(got, REFERENCES[name](x.astype(np.float64)), dtype)


def test_float64_graphs_keep_constants_exact():
    """ONNX node attributes are float32: a float64 graph spells leaky_relu (alpha not a float32) with a double
    constant instead of LeakyRelu's alpha attribute, and selu with double constants."""
    model = denso.Sequential([denso.Dense(4, activation="leaky_relu", alpha=0.01)], input_dim=3, seed=0,
                             dtype="float64")
    ops = [n.op_type for n in denso_onnx.to_proto(model).graph.node]
    assert "LeakyRelu" not in ops and "Where" in ops
    model32 = denso.Sequential([denso.Dense(4, activation="leaky_relu", alpha=0.01)], input_dim=3, seed=0)
    assert [n.op_type for n in denso_onnx.to_proto(model32).graph.node] == ["Gemm", "LeakyRelu"]
    x = np.linspace(-5, 5, 30).reshape(10, 3)
    assert_close(run(denso_onnx.to_proto(model), x), model.predict(x), np.float64)


# ---- errors ----------------------------------------------------------------------------------------------------
def test_bad_opset_and_unbuilt_model_raise():
    model = denso.Sequential([denso.Dense(2)], input_dim=3)
    for bad in (12, 10_000, 17.0, "17", True):
        with pytest.raises(ValueError, match="`opset` must be an integer"):
            denso_onnx.to_proto(model, opset=bad)
    with pytest.raises(ValueError, match="needs a built model"):
        denso.Sequential([denso.Dense(2)]).to_onnx("never.onnx")


def test_unknown_layer_is_named():
    class Square(denso.nn.Layer):
        def forward(self, x, stream=None):
            return x * x

    model = denso.Sequential([denso.Dense(2), Square()], input_dim=3, seed=0)
    with pytest.raises(ValueError, match=r"layer 1 \(Square\) has no ONNX export"):
        denso_onnx.to_proto(model)


def test_missing_onnx_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    model = denso.Sequential([denso.Dense(2)], input_dim=3, seed=0)
    with pytest.raises(ImportError, match=r"pip install 'denso\[onnx\]'"):
        model.to_onnx("never.onnx")
