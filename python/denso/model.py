"""Sequential: the Keras-style model API over one flat parameter buffer.

All weights and biases live in one flat array (and their gradients in another); each layer's
`weight`/`bias` Tensors are views into it. The optimizer sees that buffer as a single parameter,
so the C++ plan and the Tensor graph update the very same memory with the very same kernels.
The model is a container: training runs in denso.trainer, the two engines in denso.engines.
"""
from __future__ import annotations


import numpy as np

from . import initializers, io, metrics as metrics_module, optim, torch_layout
from . import losses as losses_module
from ._memory import aligned_zeros
from ._checks import as_float_array, check_seed, require_finite, require_positive_int, shape_str
from .autograd import Tensor
from .engines import check_engine, graph_forward, make_engine
from .guard import TrainingGuard
from .nn import Dense, Layer, TrainingStream, layer_from_config
from .plan import build_inference_plan, unsupported_reason
from .samples import check_inputs, check_samples
from .trainer import FitOptions, Trainer


class FlatParameter:
    """The model's parameters as one optimizer parameter: `.data` and `.grad` are flat arrays."""

    def __init__(self, size: int, dtype):
        self.data = aligned_zeros(size, dtype)
        self.grad = aligned_zeros(size, dtype)
        self.requires_grad = True
        self.shape = self.data.shape


class Sequential:
    """A stack of layers trained with mini-batch gradient descent.

    Args:
        layers: list of layers (Dense, Dropout, GaussianNoise).
        input_dim: number of input features; when given, the model is built at once. Keras's
            `Dense(8, input_dim=13)` / `input_shape=(13,)` on the first layer says the same; the model
            is then built when first needed (fit, predict, summary, get_weights, save).
        seed: seed of the weight initialisation (None: fresh entropy).
        dtype: "float32" (default, fastest) or "float64".

    Example:
        >>> model = Sequential([Dense(64, activation="relu"), Dense(3)], input_dim=4, seed=0)
        >>> model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        >>> history = model.fit(x, y, epochs=10, batch_size=32, verbose=0)
    """

    def __init__(self, layers=None, input_dim=None, seed=None, dtype="float32", name="sequential"):
        self.layers: list[Layer] = []
        self.name = name
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"`dtype` must be float32 or float64, got {dtype!r}")
        self.seed = int(np.random.SeedSequence().entropy % 2**63) if seed is None else check_seed(seed, "seed")
        self.input_dim = self.output_dim = None
        self.optimizer = self.loss = None
        self.metrics: list[str] = []
        self.history = None
        self.stop_training = False
        self.flat_parameter: FlatParameter | None = None  # weights and biases (and gradients) in one buffer
        self.epochs_trained = 0
        self._predict_plan = None
        self._guard = TrainingGuard()
        for layer in layers or []:
            self.add(layer)
        if input_dim is not None:
            self.build(input_dim)

    # ---- structure -------------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        """Append a layer (before the model is built)."""
        if not isinstance(layer, Layer):
            raise TypeError(f"`layer` must be a denso layer (Dense, Dropout, GaussianNoise), got {type(layer).__name__}")
        if self.built:
            raise ValueError("cannot add layers to a model that is already built")
        layer.position = len(self.layers)
        self.layers.append(layer)

    @property
    def built(self) -> bool:
        return self.flat_parameter is not None

    def dense_layers(self) -> list:
        """The Dense layers, in order."""
        return [layer for layer in self.layers if isinstance(layer, Dense)]

    def build(self, input_dim: int) -> None:
        """Fix shapes, allocate the flat parameter buffer and initialise it from the model's seed."""
        with self._guard.changing(self.name, "build()", from_fit_ok=True):  # fit builds an unbuilt model
            self._build(input_dim)

    def _build(self, input_dim: int) -> None:
        input_dim = require_positive_int(input_dim, "input_dim")
        if not any(isinstance(layer, Dense) for layer in self.layers):
            raise ValueError("the model needs at least one Dense layer")
        width, shapes = input_dim, []
        for i, layer in enumerate(self.layers):
            _check_declared_input(i, layer, width)
            width = layer.build(width)
            shapes.append(layer.parameter_shapes())
        total = sum(int(np.prod(shape)) for layer_shapes in shapes for _, shape, _ in layer_shapes)
        self.flat_parameter = FlatParameter(total, self.dtype)
        rng = np.random.default_rng(self.seed)
        offset, number = 0, 0
        for layer, layer_shapes in zip(self.layers, shapes):
            number += bool(layer_shapes)
            for name, shape, init in layer_shapes:
                size = int(np.prod(shape))
                view = self.flat_parameter.data[offset:offset + size].reshape(shape)
                view[...] = initializers.initialize(init, shape, rng, self.dtype)
                # W1, b1, W2, ...: the names drawings of the graph (denso.viz) show
                tensor = Tensor(view, requires_grad=True, name=f"{'W' if name == 'weight' else 'b'}{number}")
                tensor.data = view  # the parameter must stay a view into the flat buffer
                setattr(layer, name, tensor)
                setattr(layer, name + "_offset", offset)
                offset += size
        self.input_dim, self.output_dim = input_dim, width
        if self.optimizer is not None:
            self.optimizer.bind([self.flat_parameter])

    def declared_input_dim(self):
        """The input width the first layer declares (Keras's input_dim=/input_shape=), or None."""
        return self.layers[0].declared_input_dim if self.layers else None

    def parameters(self) -> list:
        """The weight and bias Tensors of every layer (views into the flat buffer)."""
        return [p for layer in self.layers for p in layer.parameters()]

    def count_params(self) -> int:
        """Total number of trainable values: out·(in + 1) per Dense layer with a bias."""
        self._require_built("count_params")
        return int(self.flat_parameter.data.size)

    def get_weights(self) -> list:
        """[W1, b1, W2, b2, ...] as copies, W shaped (in, out)."""
        self._require_built("get_weights")
        return [p.data.copy() for p in self.parameters()]

    def set_weights(self, weights) -> None:
        """Load [W1, b1, ...] (shapes must match get_weights())."""
        self._require_built("set_weights")
        with self._guard.changing(self.name, "set_weights()", from_fit_ok=True):  # callbacks restore weights
            self._set_weights(weights)

    def _set_weights(self, weights) -> None:
        params = self.parameters()
        if len(weights) != len(params):
            raise ValueError(f"`weights` must be a list of {len(params)} arrays, got {len(weights)}")
        for i, (p, w) in enumerate(zip(params, weights)):
            w = np.asarray(w)
            if w.shape != p.shape:
                raise ValueError(f"`weights[{i}]` must have shape {shape_str(p.shape)}, got {shape_str(w.shape)}")
            arr = as_float_array(w, f"weights[{i}]", self.dtype)
            require_finite(arr, f"weights[{i}]")
            p.data[...] = arr

    # ---- compile -----------------------------------------------------------------------------
    def compile(self, optimizer="adam", loss="categorical_crossentropy", metrics=None) -> None:
        """Choose the optimizer (instance or name), the loss (name) and the metrics to report.

        Metrics (a name or a list of names): "accuracy" (with a cross-entropy loss), "mse" and "mae"
        (with the mse loss); see denso.metrics.
        """
        with self._guard.changing(self.name, "compile()"):
            self._compile(optimizer, loss, metrics)

    def _compile(self, optimizer, loss, metrics) -> None:
        self.loss = losses_module.get(loss)
        metrics = [metrics] if isinstance(metrics, str) else list(metrics or [])
        self.metrics = [metrics_module.resolve(m, self.loss) for m in metrics]
        self.optimizer = optim.get(optimizer)
        dense = self.dense_layers()
        if dense:
            self.loss.check_output_activation(dense[-1].activation)
        if self.built:
            self.optimizer.bind([self.flat_parameter])

    # ---- training ------------------------------------------------------------------------------
    def fit(self, x, y, epochs=1, batch_size=32, shuffle=True, validation_data=None, validation_split=0.0,
            callbacks=None, verbose=1, seed=None, initial_epoch=0, engine="auto", sample_weight=None,
            distributed=False):
        """Train with mini-batch gradient descent; returns the History.

        Each epoch permutes the samples (with `shuffle`) and takes consecutive slices of
        `batch_size`; the last, shorter batch is used. `batch_size=1` is stochastic gradient
        descent, `batch_size=len(x)` batch gradient descent. `validation_split` holds out the *last*
        fraction of the samples (before shuffling).

        Args:
            x: (samples, features) inputs.
            y: integer labels (samples,) or one-hot rows for categorical_crossentropy; targets
                (samples, outputs) (or (samples,) for one output) otherwise.
            epochs: number of passes over the data.
            batch_size: samples per gradient step.
            validation_data: (x_val, y_val) or (x_val, y_val, sample_weight_val) evaluated after each
                epoch ("val_" entries).
            validation_split: fraction in [0, 1) of the data to hold out instead.
            callbacks: list of denso.callbacks.Callback.
            verbose: 0 silent, 1 (or "auto") progress bar (one line per epoch when not on a terminal), 2 one
                line per epoch.
            seed: seed of shuffling and dropout (None: derived from the model's seed).
            engine: "auto" (the C++ plan when the model supports it), "plan" or "graph".
            sample_weight: optional (samples,) weights >= 0: each batch's loss is the weighted mean
                Σ w·loss / Σ w (so integer weights act as repeated samples), and the reported loss and
                metrics are weighted likewise.
            distributed: data-parallel training over MPI (denso.distributed; `pip install 'denso[mpi]'`):
                run the same script on every rank, `mpiexec -n K python -m mpi4py train.py`, each rank
                passing the same full x and y (arrays or memory maps). `batch_size` is then the global
                batch, split across the ranks: any K makes the steps one process makes. Rank 0's
                weights and optimizer state are broadcast first; every rank returns the same History;
                only rank 0 shows progress and runs ModelCheckpoint.
        """
        options = FitOptions(epochs, batch_size, shuffle, validation_data, validation_split, tuple(callbacks or ()),
                             _check_verbose(verbose), seed, initial_epoch, engine, distributed)
        with self._guard.fitting(self.name):
            return Trainer(self, options).fit(x, y, sample_weight)

    def evaluate(self, x, y, batch_size=1024, engine="auto", sample_weight=None, verbose=0) -> dict:
        """Loss (including l1/l2 penalties) and metrics over (x, y), as a dict; with `sample_weight`,
        their weighted means. `verbose` 1 or 2 (or "auto") also prints them on one line, as Keras's
        last line; 0 (the default) prints nothing."""
        verbose = _check_verbose(verbose)
        self.require_compiled("evaluate")
        self.build_if_declared()
        data = check_samples(self, x, y, sample_weight=sample_weight)
        batch_size = require_positive_int(batch_size, "batch_size")
        if len(data) == 0:
            raise ValueError("`x` must hold at least one sample to evaluate")
        runner = make_engine(self, engine, min(batch_size, len(data)), 0, data.labels is not None)
        logs = metrics_module.epoch_logs(runner.evaluate(data), self.loss, self.metrics, self.output_dim)
        if verbose:
            print(" - ".join(f"{name}: {value:.4f}" for name, value in logs.items()))
        return logs

    def predict(self, x, batch_size=1024, engine="auto", verbose=0) -> np.ndarray:
        """Outputs for x, (samples, outputs). With a cross-entropy loss these are probabilities
        (softmax for categorical, sigmoid for binary), since the loss works on logits.

        `verbose` (0, 1, 2 or "auto") is accepted for Keras code and checked; predict prints nothing
        (it runs in one native call: there is no progress to show).

        Safe to call from several threads at once on one model. A C-contiguous array of the model's
        dtype and width goes straight to the C++ plan (which checks it for NaN/inf): a 1-sample call
        costs a few µs of Python on top of the forward pass.
        """
        plan = self._predict_plan
        if (plan is not None and plan[0] is self.loss and engine == "auto" and verbose == 0 and type(x) is np.ndarray
                and x.dtype == self.dtype and x.ndim == 2 and x.shape[1] == self.input_dim
                and x.flags.c_contiguous and type(batch_size) is int and batch_size > 0):
            out = np.empty((x.shape[0], self.output_dim), dtype=self.dtype)
            plan[1].predict(x, out, batch_size)
            return out
        _check_verbose(verbose)
        self._require_built("predict")
        x = check_inputs(self, x)
        batch_size = require_positive_int(batch_size, "batch_size")
        check_engine(engine)
        plan = self._inference_plan()
        if engine == "graph" or plan is None:
            return graph_forward(self, Tensor(x), probabilities=True).data
        out = np.empty((x.shape[0], self.output_dim), dtype=self.dtype)
        plan.predict(x, out, batch_size)
        return out

    def _inference_plan(self):
        """The cached predict-only plan for the current loss (None when the plan cannot run the model).

        Its predict keeps its workspace per call, so one plan serves every thread and batch size."""
        if unsupported_reason(self) is not None:
            return None
        cached = self._predict_plan
        if cached is None or cached[0] is not self.loss:
            cached = self._predict_plan = (self.loss, build_inference_plan(self))
        return cached[1]

    def __call__(self, x, training=False) -> Tensor:
        """The graph forward pass (outputs as written in the layers; no loss fusion)."""
        self._require_built("__call__")
        out = x if isinstance(x, Tensor) else Tensor(check_inputs(self, x))
        stream = TrainingStream(self.seed, 0) if training else None
        for layer in self.layers:
            out = layer.forward(out, stream)
        return out

    @property
    def steps_trained(self) -> int:
        """Updates applied so far: the optimizer's step count of the flat parameter (one source of truth)."""
        return self.optimizer.state[0]["step"] if self.optimizer is not None and self.optimizer.params else 0

    @steps_trained.setter
    def steps_trained(self, value: int) -> None:
        self.optimizer.state[0]["step"] = int(value)

    # ---- pickling (copy.deepcopy, joblib) -------------------------------------------------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_predict_plan"] = None  # a native plan over this process's buffers: rebuilt on demand
        del state["_guard"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._guard = TrainingGuard()
        if self.built:
            self._adopt_parameters()

    def _adopt_parameters(self) -> None:
        """After unpickling: own aligned, writeable buffers (a joblib memmap is read-only) and make every
        layer's weight/bias a view into them again (pickle copies views apart)."""
        flat = self.flat_parameter
        for name in ("data", "grad"):
            fresh = aligned_zeros(flat.data.size, self.dtype)
            fresh[...] = getattr(flat, name)
            setattr(flat, name, fresh)
        for layer in self.dense_layers():
            for name in ("weight", "bias"):
                tensor = getattr(layer, name)
                if tensor is not None:
                    offset = getattr(layer, name + "_offset")
                    tensor.data = flat.data[offset:offset + tensor.data.size].reshape(tensor.data.shape)
                    tensor.grad = None

    # ---- reporting and persistence -------------------------------------------------------------
    def summary(self, print_fn=print) -> str:
        """Print and return the layer table: type, output shape, parameter count, and the total."""
        self._require_built("summary")
        rows = [("Layer", "Output shape", "Params")]
        for i, layer in enumerate(self.layers):
            count = sum(p.data.size for p in layer.parameters())
            kind = type(layer).__name__
            detail = f" ({layer.activation})" if isinstance(layer, Dense) else ""
            rows.append((f"{i}: {kind}{detail}", f"(None, {layer.output_dim})", f"{count:,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(3)]
        line = "-" * (sum(widths) + 6)
        text = [f'Model: "{self.name}"  input: (None, {self.input_dim})', line]
        text += ["  ".join(r[c].ljust(widths[c]) if c < 2 else r[c].rjust(widths[c]) for c in range(3)) for r in rows]
        text.insert(3, line)
        text += [line, f"Total params: {self.count_params():,}"]
        out = "\n".join(text)
        if print_fn is not None:
            print_fn(out)
        return out

    def get_config(self) -> dict:
        """The architecture as a JSON-serialisable dict (no weights, no compile settings):
        `Sequential.from_config(model.get_config())` rebuilds an untrained copy."""
        return {"name": self.name, "input_dim": self.input_dim, "seed": self.seed, "dtype": self.dtype.name,
                "layers": [layer.get_config() for layer in self.layers]}

    @classmethod
    def from_config(cls, config: dict) -> "Sequential":
        """A new, untrained model with the architecture of `config` (from get_config()): its weights are
        initialised afresh from the config's seed (the original's weights before training; change
        config["seed"] for others), and it needs compile() before fit.

        Example:
            >>> copy = Sequential.from_config(model.get_config())
        """
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise TypeError("`config` must be a dict with a 'layers' list, as returned by get_config(), got "
                            f"{type(config).__name__}")
        unknown = sorted(set(config) - {"name", "input_dim", "seed", "dtype", "layers"})
        if unknown:
            raise ValueError(f"`config` has keys get_config() does not write: {unknown}")
        layers = [layer_from_config(layer) for layer in config["layers"]]
        return cls(layers, input_dim=config.get("input_dim"), seed=config.get("seed"),
                   dtype=config.get("dtype", "float32"), name=config.get("name", "sequential"))

    def save(self, path) -> None:
        """Write architecture, weights, compile settings and optimizer state to one file, atomically.

        The file is denso's own format, an .npz archive read by denso.load_model: `path` must end in
        .npz or .denso (or have no extension); .h5, .keras and other formats are refused."""
        io.check_model_path(path)
        self.build_if_declared()
        io.save_model(self, path)

    def to_onnx(self, path, opset: int = 17):
        """Write the model as an ONNX file whose output is what predict() returns (denso.onnx.export: input
        "input", output "output", a dynamic batch axis); returns the ModelProto. Needs `pip install onnx`."""
        from . import onnx as onnx_export  # imports the onnx package only now
        return onnx_export.export(self, path, opset)

    def state_dict(self) -> dict:
        """The weights as numpy copies under PyTorch's names, {"0.weight": (out, in), "0.bias": (out,), ...}:
        the keys of `denso.interop.to_torch(model).state_dict()` (numbering rule: denso.torch_layout)."""
        return torch_layout.state_dict(self)

    def load_state_dict(self, state_dict) -> None:
        """Load weights named and shaped as state_dict() gives them (numpy arrays or torch tensors, e.g. a
        torch module's state_dict()); every key must be present, with torch's (out, in) weight layout."""
        torch_layout.load_state_dict(self, state_dict)

    def build_if_declared(self) -> None:
        """Build an unbuilt model whose first layer declares its input width (Keras's input_dim=)."""
        if not self.built and self.declared_input_dim() is not None:
            self.build(self.declared_input_dim())

    def _require_built(self, what: str) -> None:
        self.build_if_declared()
        if not self.built:
            raise ValueError(f"{what}() needs a built model: pass input_dim to Sequential(...) or call build() / fit()")

    def require_compiled(self, what: str) -> None:
        """Raise unless compile() has run; `what` names the call that needs it."""
        if self.loss is None or self.optimizer is None:
            raise ValueError(f"{what}() needs a compiled model: call model.compile(optimizer, loss) first")



def _check_declared_input(position: int, layer, width: int) -> None:
    """A layer's declared input width (Keras's input_dim=/input_shape=) must be the width it receives."""
    declared = layer.declared_input_dim
    if declared is not None and declared != width:
        source = "the model's input_dim" if position == 0 else f"layer {position - 1}"
        raise ValueError(f"layer {position} ({type(layer).__name__}) declares input_dim={declared}, but it receives "
                         f"{width} features from {source}; remove its input_dim/input_shape or make them agree")


def _check_verbose(verbose) -> int:
    """Keras's verbose values: 0, 1, 2 (or True/False) and "auto" (= 1)."""
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or not isinstance(verbose, (int, np.integer)):
        raise ValueError(f"`verbose` must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)
