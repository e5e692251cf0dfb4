"""Sequential: the Keras-style model API over one flat parameter buffer.

All weights and biases live in one flat array (and their gradients in another); each layer's
`weight`/`bias` Tensors are views into it. The optimizer sees that buffer as a single parameter,
so the C++ plan and the Tensor graph update the very same memory with the very same kernels.
"""
from __future__ import annotations


import numpy as np

from . import initializers
from . import losses as losses_module
from ._memory import aligned_zeros
from ._checks import as_float_array, require_finite, require_ndim, require_positive_int, shape_str
from .autograd import Tensor
from .nn import Dense, Layer
from .plan import build_inference_plan, unsupported_reason
from .training import GraphEngine, PlanEngine

METRICS = ("accuracy", "mse", "mae")
METRIC_ALIASES = {"acc": "accuracy", "mean_squared_error": "mse", "mean_absolute_error": "mae"}


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
        input_dim: number of input features; when given, the model is built at once.
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
        self.seed = int(np.random.SeedSequence().entropy % 2**63) if seed is None else int(seed)
        self.input_dim = self.output_dim = None
        self.optimizer = self.loss = None
        self.metrics: list[str] = []
        self.history = None
        self.stop_training = False
        self._flat = None
        self._offsets: list = []
        self._epoch = 0
        self._predict_plan = None
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
        self.layers.append(layer)

    @property
    def built(self) -> bool:
        return self._flat is not None

    def build(self, input_dim: int) -> None:
        """Fix shapes, allocate the flat parameter buffer and initialise it from the model's seed."""
        input_dim = require_positive_int(input_dim, "input_dim")
        if not any(isinstance(layer, Dense) for layer in self.layers):
            raise ValueError("the model needs at least one Dense layer")
        width, shapes = input_dim, []
        for layer in self.layers:
            width = layer.build(width)
            shapes.append(layer.parameter_shapes())
        total = sum(int(np.prod(shape)) for layer_shapes in shapes for _, shape, _ in layer_shapes)
        self._flat = FlatParameter(total, self.dtype)
        rng = np.random.default_rng(self.seed)
        offset, self._offsets = 0, []
        for layer, layer_shapes in zip(self.layers, shapes):
            offsets = []
            for name, shape, init in layer_shapes:
                size = int(np.prod(shape))
                view = self._flat.data[offset:offset + size].reshape(shape)
                view[...] = initializers.initialize(init, shape, rng, self.dtype)
                tensor = Tensor(view, requires_grad=True)
                tensor.data = view  # the parameter must stay a view into the flat buffer
                setattr(layer, name, tensor)
                offsets.append(offset)
                offset += size
            self._offsets.append(tuple(offsets) + (0,) * (2 - len(offsets)))
        self.input_dim, self.output_dim = input_dim, width
        if self.optimizer is not None:
            self.optimizer.bind([self._flat])

    def parameters(self) -> list:
        """The weight and bias Tensors of every layer (views into the flat buffer)."""
        return [p for layer in self.layers for p in layer.parameters()]

    def count_params(self) -> int:
        """Total number of trainable values: out·(in + 1) per Dense layer with a bias."""
        self._require_built("count_params")
        return int(self._flat.data.size)

    def get_weights(self) -> list:
        """[W1, b1, W2, b2, ...] as copies, W shaped (in, out)."""
        self._require_built("get_weights")
        return [p.data.copy() for p in self.parameters()]

    def set_weights(self, weights) -> None:
        """Load [W1, b1, ...] (shapes must match get_weights())."""
        self._require_built("set_weights")
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

        Metrics: "accuracy" (with a cross-entropy loss), "mse" and "mae" (with the mse loss).
        """
        from . import optim
        self.loss = losses_module.get(loss)
        self.metrics = [self._check_metric(m) for m in (metrics or [])]
        self.optimizer = optim.get(optimizer)
        dense = [layer for layer in self.layers if isinstance(layer, Dense)]
        if dense:
            self.loss.check_output_activation(dense[-1].activation)
        if self.built:
            self.optimizer.bind([self._flat])

    def _check_metric(self, metric) -> str:
        name = METRIC_ALIASES.get(str(metric).lower(), str(metric).lower())
        if name not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; expected one of {list(METRICS)}")
        classifier = not isinstance(self.loss, losses_module.MeanSquaredError)
        if (name == "accuracy") != classifier:
            raise ValueError(f"metric {metric!r} does not apply to loss {self.loss.name!r}: "
                             "use 'accuracy' with cross-entropy losses, 'mse'/'mae' with 'mse'")
        return name

    # ---- data ----------------------------------------------------------------------------------
    def _inputs(self, x, name="x") -> np.ndarray:
        arr = as_float_array(x, name, self.dtype)
        require_ndim(arr, name, 2, "samples × features")
        if self.built and arr.shape[1] != self.input_dim:
            raise ValueError(f"`{name}` must have {self.input_dim} columns to match the model's input, "
                             f"got array of shape {shape_str(arr.shape)}")
        require_finite(arr, name)
        return arr

    def _data(self, x, y, x_name="x"):
        """(x, y matrix or None, labels or None), validated against the model."""
        x = self._inputs(x, x_name)
        if y is None:
            raise ValueError("`y` is required")
        y_arr, labels = self.loss.targets(y, x.shape[0], self.output_dim, self.dtype)
        return x, y_arr, labels

    # ---- training ------------------------------------------------------------------------------
    def fit(self, x, y, epochs=1, batch_size=32, shuffle=True, validation_data=None, validation_split=0.0,
            callbacks=None, verbose=1, seed=None, initial_epoch=0, engine="auto"):
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
            validation_data: (x_val, y_val) evaluated after each epoch ("val_" entries).
            validation_split: fraction in [0, 1) of the data to hold out instead.
            callbacks: list of denso.callbacks.Callback.
            verbose: 0 silent, 1 progress bar (one line per epoch when not on a terminal).
            seed: seed of shuffling and dropout (None: derived from the model's seed).
            engine: "auto" (the C++ plan when the model supports it), "plan" or "graph".
        """
        from .fitting import run_fit
        return run_fit(self, x, y, epochs, batch_size, shuffle, validation_data, validation_split, callbacks,
                       verbose, seed, initial_epoch, engine)

    def _engine(self, engine: str, max_batch: int, seed: int, labels):
        _check_engine(engine)
        reason = unsupported_reason(self)
        if engine == "plan" and reason:
            raise ValueError(f"engine='plan' cannot run this model: {reason}")
        if engine == "graph" or reason:
            return GraphEngine(self, seed)
        return PlanEngine(self, max_batch, seed, labels)

    def evaluate(self, x, y, batch_size=1024, engine="auto") -> dict:
        """Loss (including l1/l2 penalties) and metrics over (x, y), as a dict."""
        self._require_compiled("evaluate")
        x, y_arr, labels = self._data(x, y)
        batch_size = require_positive_int(batch_size, "batch_size")
        totals = self._engine(engine, min(batch_size, x.shape[0]), 0, labels).evaluate(x, y_arr, labels)
        return self._logs(totals)

    def predict(self, x, batch_size=1024, engine="auto") -> np.ndarray:
        """Outputs for x, (samples, outputs). With a cross-entropy loss these are probabilities
        (softmax for categorical, sigmoid for binary), since the loss works on logits.

        Safe to call from several threads at once on one model. A C-contiguous array of the model's
        dtype and width goes straight to the C++ plan (which checks it for NaN/inf): a 1-sample call
        costs a few µs of Python on top of the forward pass.
        """
        plan = self._predict_plan
        if (plan is not None and plan[0] is self.loss and engine == "auto" and type(x) is np.ndarray
                and x.dtype == self.dtype and x.ndim == 2 and x.shape[1] == self.input_dim
                and x.flags.c_contiguous and type(batch_size) is int and batch_size > 0):
            out = np.empty((x.shape[0], self.output_dim), dtype=self.dtype)
            plan[1].predict(x, out, batch_size)
            return out
        self._require_built("predict")
        x = self._inputs(x)
        batch_size = require_positive_int(batch_size, "batch_size")
        _check_engine(engine)
        plan = self._inference_plan()
        if engine == "graph" or plan is None:
            return self._graph_forward(Tensor(x), training=False, probabilities=True).data
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
        out = x if isinstance(x, Tensor) else Tensor(self._inputs(x))
        for index, layer in enumerate(self.layers):
            out = layer.forward(out, training, self.seed, 0, index)
        return out

    def _graph_forward(self, x: Tensor, training: bool, seed: int = 0, step: int = 0, probabilities=False):
        """Forward through the graph; a loss-fused last activation is left out (logits) unless
        `probabilities`, where the loss's probability function is applied instead."""
        dense = [layer for layer in self.layers if isinstance(layer, Dense)]
        fused = self.loss is not None and self.loss.fused_activation is not None
        out = x
        for index, layer in enumerate(self.layers):
            if fused and layer is dense[-1]:
                act = self.loss.probabilities if probabilities else "identity"
                out = layer.forward(out, training, seed, step, index, activation=act)
            else:
                out = layer.forward(out, training, seed, step, index)
        return out

    def _gather_grads(self) -> None:
        """Copy each parameter Tensor's .grad into the flat gradient buffer."""
        offset = 0
        for p in self.parameters():
            size = p.data.size
            self._flat.grad[offset:offset + size] = 0 if p.grad is None else p.grad.reshape(-1)
            offset += size

    def _penalty_value(self) -> float:
        total = 0.0
        for layer in self.layers:
            if isinstance(layer, Dense) and (layer.l1 or layer.l2):
                w = layer.weight.data.astype(np.float64)
                total += layer.l2 * float((w * w).sum()) + layer.l1 * float(np.abs(w).sum())
        return total

    def _optimizer_slots(self) -> list:
        return self.optimizer.slot_buffers(0)

    @property
    def _step(self) -> int:
        """Updates applied so far: the optimizer's step count of the flat parameter (one source of truth)."""
        return self.optimizer.state[0]["step"] if self.optimizer is not None and self.optimizer.params else 0

    @_step.setter
    def _step(self, value: int) -> None:
        self.optimizer.state[0]["step"] = int(value)

    def _logs(self, totals: dict, prefix: str = "") -> dict:
        """Per-sample means from the engines' sums."""
        rows = max(totals["rows"], 1)
        logs = {prefix + "loss": totals["loss"] / rows}
        for m in self.metrics:
            if m == "accuracy":
                per_row = self.output_dim if isinstance(self.loss, losses_module.BinaryCrossentropy) else 1
                logs[prefix + m] = totals["correct"] / (rows * per_row)
            elif m == "mse":
                logs[prefix + m] = totals["data_loss"] / rows
            else:
                logs[prefix + m] = totals["abs_error"] / (rows * self.output_dim)
        return logs

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
        return {"name": self.name, "input_dim": self.input_dim, "seed": self.seed, "dtype": self.dtype.name,
                "layers": [layer.get_config() for layer in self.layers]}

    def save(self, path) -> None:
        """Write architecture, weights, compile settings and optimizer state to one file, atomically."""
        from .io import save_model
        save_model(self, path)

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(f"{what}() needs a built model: pass input_dim to Sequential(...) or call build() / fit()")

    def _require_compiled(self, what: str) -> None:
        if self.loss is None or self.optimizer is None:
            raise ValueError(f"{what}() needs a compiled model: call model.compile(optimizer, loss) first")


def _check_engine(engine) -> None:
    if engine not in ("auto", "plan", "graph"):
        raise ValueError(f"`engine` must be 'auto', 'plan' or 'graph', got {engine!r}")
