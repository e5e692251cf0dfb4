"""Type stubs for denso's C++ extension (private: use the denso package).

Arrays are C-contiguous float32 or float64 (all operands of one call alike); outputs are written in
place and must be writeable; wrong dtypes raise TypeError, wrong shapes/layouts ValueError.
Every kernel call releases the GIL and flushes denormals to zero while it runs (a Plan's gradient
hook takes the GIL back to run its Python code).
"""
from typing import Optional, Sequence

import numpy as np

__version__: str

class Activation:
    identity: Activation
    relu: Activation
    leaky_relu: Activation
    sigmoid: Activation
    tanh: Activation
    softmax: Activation
    step: Activation
    gelu: Activation
    elu: Activation
    selu: Activation
    softplus: Activation
    swish: Activation

def needs_preactivation(activation: Activation) -> bool:
    """Whether the activation's backward pass needs the pre-activation z besides its output (gelu, swish)."""

class OptimizerKind:
    sgd: OptimizerKind
    rmsprop: OptimizerKind
    adam: OptimizerKind

class OptimizerConfig:
    """Hyperparameters of any optimizer (AdamW = adam with decoupled_weight_decay)."""
    kind: OptimizerKind
    lr: float
    momentum: float
    dampening: float
    alpha: float
    eps: float
    beta1: float
    beta2: float
    weight_decay: float
    nesterov: bool
    centered: bool
    amsgrad: bool
    decoupled_weight_decay: bool
    def __init__(self, kind: str | OptimizerKind, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 alpha: float = 0.99, eps: float = 1e-8, beta1: float = 0.9, beta2: float = 0.999,
                 weight_decay: float = 0.0, nesterov: bool = False, centered: bool = False, amsgrad: bool = False,
                 decoupled_weight_decay: bool = False) -> None: ...

class LossKind:
    """The loss a plan fuses with the last layer."""
    mse: LossKind
    bce_logits: LossKind
    softmax_xent_labels: LossKind
    softmax_xent: LossKind
    mae: LossKind
    huber: LossKind

class TransformKind:
    dropout: TransformKind
    gaussian_noise: TransformKind

class InputTransform:
    """A training-only transform of a dense layer's input, keyed by the layer's model position."""
    kind: TransformKind
    value: float
    layer: int
    def __init__(self, kind: TransformKind, value: float, layer: int) -> None: ...

class DenseSpec:
    """A dense layer of a Plan; offsets index the flat parameter/gradient buffers."""
    in_features: int
    out_features: int
    activation: Activation
    weight_offset: int
    bias_offset: int
    def __init__(self, in_features: int, out_features: int, activation: Activation, alpha: float, use_bias: bool,
                 l1: float, l2: float, weight_offset: int, bias_offset: int,
                 transforms: list[InputTransform]) -> None: ...

class Totals:
    """Sums over the batches of a pass (read-only); `+=` adds a later pass."""
    loss: float
    data_loss: float
    correct: float
    abs_error: float
    sq_error: float
    weight: float
    rows: int
    batches: int
    finite: bool
    bad_batch: int
    overflowed: bool
    def __init__(self) -> None: ...
    @staticmethod
    def stopped_at(batch: int) -> Totals: ...
    @staticmethod
    def overflow() -> Totals: ...
    @staticmethod
    def from_sums(loss: float, data_loss: float, correct: float, abs_error: float, sq_error: float, weight: float,
                  rows: int,
                  batches: int) -> Totals:
        """Finite Totals with these sums (the ranks' sums of a data-parallel pass, added up)."""
    def __iadd__(self, other: Totals) -> Totals: ...

def count_batch(loss: LossKind, logits: np.ndarray, y: Optional[np.ndarray], labels: Optional[np.ndarray],
                data_loss: float, penalty: float, weights: Optional[np.ndarray] = None) -> Totals:
    """Totals of one batch, counted as the plan counts its own (argmax; logit > 0 vs target >= 0.5; |error|
    and error² for the regression losses)."""

def batch_shard(batch: np.ndarray, weights: Optional[np.ndarray], rank: int, ranks: int) -> tuple[int, int, float]:
    """(offset, rows, total): rank `rank` of `ranks` trains rows [offset, offset + rows) of the batch (sample
    indices into weights); total is the whole batch's sample weight (its rows without weights)."""

class Plan:
    """A compiled stack of dense layers + fused loss + optimizer over caller-owned flat buffers."""
    def __init__(self, layers: list[DenseSpec], loss: LossKind, optimizer: OptimizerConfig, max_batch: int,
                 seed: int, params: np.ndarray, grads: np.ndarray, slots: list[np.ndarray],
                 loss_delta: float = 1.0) -> None:
        """`loss_delta`: the huber loss's delta (> 0; unused by the other losses)."""
    def train(self, x: np.ndarray, y: Optional[np.ndarray], labels: Optional[np.ndarray],
              weights: Optional[np.ndarray], order: np.ndarray, batch_size: int, first: int, last: int,
              lrs: np.ndarray, step: int) -> Totals:
        """Train batches [first, last) of the epoch ordered by `order`; the step count after them is
        step + totals.batches."""
    def evaluate(self, x: np.ndarray, y: Optional[np.ndarray], labels: Optional[np.ndarray],
                 weights: Optional[np.ndarray] = None) -> Totals: ...
    def predict(self, x: np.ndarray, out: np.ndarray, batch_size: int = 1024) -> None:
        """out = outputs (probabilities for cross-entropy losses), in blocks of batch_size rows; rejects
        NaN/inf in x; safe from several threads at once."""
    def set_gradient_hook(self, hook) -> None:
        """hook(grads, rows, step) between backward and update of every batch, GIL held; None removes it."""
    def set_shard(self, rank: int, ranks: int) -> None:
        """Data parallelism: train shard `rank` of `ranks` of every batch, normalised by the whole batch; the
        gradient hook must sum the ranks' gradients."""
    @property
    def shard(self) -> Optional[tuple[int, int]]: ...
    @property
    def last_step(self) -> int:
        """Updates applied when the last train call ended (normally or by an exception from the hook)."""

def dense_forward(x: np.ndarray, weight: np.ndarray, bias: Optional[np.ndarray], out: np.ndarray,
                  activation: Activation, alpha: float = 0.01, pre: Optional[np.ndarray] = None) -> None:
    """out = g(x @ weight + bias); `pre`, when given, receives x @ weight + bias."""
def activation_forward(z: np.ndarray, out: np.ndarray, activation: Activation, alpha: float = 0.01) -> None:
    """out = g(z) row-wise; `out` may be `z`."""
def activation_backward(out: np.ndarray, grad: np.ndarray, activation: Activation, alpha: float = 0.01,
                        z: Optional[np.ndarray] = None) -> None:
    """grad *= g'(z), with g' recovered from the activation output `out` (from the pre-activation `z`,
    required, for gelu and swish)."""
def dense_backward_params(x: np.ndarray, grad: np.ndarray, grad_weight: np.ndarray,
                          grad_bias: Optional[np.ndarray], accumulate: bool = False) -> None:
    """grad_weight (+)= x.T @ grad; grad_bias (+)= grad.sum(0)."""
def dense_backward_input(grad: np.ndarray, weight: np.ndarray, grad_input: np.ndarray,
                         accumulate: bool = False) -> None:
    """grad_input (+)= grad @ weight.T."""
def mse_loss(pred: np.ndarray, target: np.ndarray, grad: Optional[np.ndarray] = None,
        weights: Optional[np.ndarray] = None, total: Optional[float] = None) -> float:
    """mean((pred - target)^2) over all elements; its gradient into `grad`."""
def mae_loss(pred: np.ndarray, target: np.ndarray, grad: Optional[np.ndarray] = None,
        weights: Optional[np.ndarray] = None, total: Optional[float] = None) -> float:
    """mean(|pred - target|) over all elements; its (sub)gradient, 0 where pred == target, into `grad`."""
def huber_loss(pred: np.ndarray, target: np.ndarray, grad: Optional[np.ndarray] = None,
        weights: Optional[np.ndarray] = None, delta: float = 1.0, total: Optional[float] = None) -> float:
    """Huber loss (quadratic within `delta`, linear beyond), mean over all elements; gradient into `grad`."""
def bce_logits_loss(logits: np.ndarray, target: np.ndarray, grad: Optional[np.ndarray] = None,
        weights: Optional[np.ndarray] = None, total: Optional[float] = None) -> float:
    """Binary cross-entropy from logits, mean over all elements."""
def softmax_xent_loss(logits: np.ndarray, target: np.ndarray, grad: Optional[np.ndarray] = None,
        weights: Optional[np.ndarray] = None, total: Optional[float] = None) -> float:
    """Softmax cross-entropy with probability rows, mean over rows."""
def softmax_xent_labels_loss(logits: np.ndarray, labels: np.ndarray, grad: Optional[np.ndarray] = None,
        weights: Optional[np.ndarray] = None, total: Optional[float] = None) -> float:
    """Softmax cross-entropy with int64 labels, mean over rows."""
def optimizer_slot_count(config: OptimizerConfig) -> int: ...
def optimizer_slot_names(config: OptimizerConfig) -> list[str]: ...
def optimizer_update(config: OptimizerConfig, step: int, param: np.ndarray, grad: np.ndarray,
                     slots: Sequence[np.ndarray]) -> None: ...
def weight_penalty(weight: np.ndarray, grad: Optional[np.ndarray], l1: float, l2: float) -> float:
    """l2*sum(W^2) + l1*sum(|W|); unless grad is None, also grad += 2*l2*W + l1*sign(W)."""
def all_finite(values: np.ndarray) -> bool:
    """Whether every value of a C-contiguous float32/float64 array is finite (no NaN, no inf)."""
def dropout_forward(seed: int, layer: int, step: int, rate: float, x: np.ndarray, mask: np.ndarray,
                    row_offset: int = 0) -> None:
    """Inverted dropout in place on x; mask receives 0 or 1/(1-rate); row r draws batch row row_offset + r's."""
def gaussian_noise_forward(seed: int, layer: int, step: int, stddev: float, x: np.ndarray,
                           row_offset: int = 0) -> None:
    """x += stddev * N(0, 1), keyed by (seed, layer, step, row_offset + row)."""
def shuffled_indices(seed: int, epoch: int, out: np.ndarray) -> None:
    """out = the (seed, epoch) permutation of 0..n-1."""
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def blas_info() -> str: ...
def gemm_engine(trans_a: bool, trans_b: bool, m: int, n: int, k: int) -> str: ...
def simd_instruction_sets() -> str: ...
