"""Vanishing gradients: per-layer gradient norms of deep sigmoid networks against ReLU with He init.

Backpropagation multiplies the gradient by Wᵀ and by g'(Z) once per layer. The sigmoid's
derivative is at most 1/4, so with Glorot-scaled weights the gradient shrinks by roughly 4× per
layer and the first layers of a deep sigmoid network barely learn. ReLU (derivative 0 or 1) with
He initialisation (variance 2/fan_in) keeps the gradient's scale from layer to layer. The graph is
built here with `denso.dense` on each layer's weights, so every layer's dL/dW is available after
`backward()`.
"""
from __future__ import annotations

import numpy as np

from .. import Dense, Sequential, Tensor, categorical_crossentropy, dense, optim
from . import _data, _report, _runner

NAME = "vanishing-gradients"
QUESTION = ("Why do the first layers of a deep sigmoid network barely learn, and how do ReLU and He "
            "initialisation keep the gradient alive?")
CAPTION = ("Left: each layer's gradient norm at initialisation, log scale: the sigmoid network's falls by orders "
           "of magnitude towards the input, ReLU + He stays level. Middle: the first (solid) and last (dashed) "
           "layer during the first epoch. Right: the loss of the first epoch: the sigmoid network's does not move.")
NETWORKS = {  # label: (hidden activation, kernel initializer)
    "sigmoid, Glorot": ("sigmoid", "glorot_uniform"),
    "tanh, Glorot": ("tanh", "glorot_uniform"),
    "ReLU, He": ("relu", "he_normal"),
}
FULL = {"depth": 10, "width": 64, "n": 8192, "batch": 64, "lr": 0.1}
SMALL = {"depth": 10, "width": 32, "n": 1024, "batch": 64, "lr": 0.1}


def layer_gradients(layers, x, y) -> tuple:
    """(loss, [‖dL/dW_l‖_F for each layer]) of one forward/backward pass over (x, y)."""
    h = Tensor(x)
    for layer in layers:
        h = dense(h, layer.weight, layer.bias, layer.activation)
    loss = categorical_crossentropy(h, y)
    loss.backward()
    return loss.item(), [float(np.linalg.norm(layer.weight.grad)) for layer in layers]


def first_epoch(activation, init, x, y, cfg, seed):
    """Gradient norms at initialisation (on 512 samples) and at every step of one epoch of SGD."""
    model = Sequential([Dense(cfg["width"], activation=activation, kernel_initializer=init)
                        for _ in range(cfg["depth"])] + [Dense(10)], input_dim=x.shape[1], seed=seed)
    opt = optim.SGD(model.parameters(), lr=cfg["lr"])
    opt.zero_grad()
    loss0, init_norms = layer_gradients(model.layers, x[:512], y[:512])
    order = np.random.default_rng(seed).permutation(x.shape[0])
    losses, norms = [], []
    for start in range(0, x.shape[0], cfg["batch"]):
        batch = order[start:start + cfg["batch"]]
        opt.zero_grad()
        loss, step_norms = layer_gradients(model.layers, x[batch], y[batch])
        opt.step()
        losses.append(loss)
        norms.append(step_norms)
    opt.zero_grad()
    loss1, _ = layer_gradients(model.layers, x[:512], y[:512])
    return {"init": np.array(init_norms), "steps": np.array(norms), "losses": np.array(losses),
            "loss_before": loss0, "loss_after": loss1}


def _plot(results, cfg):
    fig, (ax_init, ax_steps, ax_loss) = _report.new_figure(3)
    layers = np.arange(1, cfg["depth"] + 2)
    for i, (label, res) in enumerate(results.items()):
        color = f"C{i}"
        ax_init.plot(layers, res["init"], "o-", color=color, label=label)
        ax_steps.plot(res["steps"][:, 0], color=color, label=f"{label}: layer 1")
        ax_steps.plot(res["steps"][:, -1], color=color, ls="--", label=f"{label}: layer {layers[-1]}")
        ax_loss.plot(res["losses"], color=color, lw=0.8, label=label)
    ax_init.set(yscale="log", xlabel="layer (1 = input side)", ylabel="‖dL/dW‖ at initialisation",
                title=f"Gradient norm per layer, depth {layers[-1]}")
    ax_init.set_xticks(layers)
    ax_steps.set(yscale="log", xlabel="SGD step (first epoch)", ylabel="‖dL/dW‖",
                 title="First (solid) and last (dashed) layer")
    ax_loss.set(xlabel="SGD step (first epoch)", ylabel="mini-batch loss", title="Training loss, first epoch")
    for ax in (ax_init, ax_steps, ax_loss):
        ax.legend(fontsize=7)
    return fig


def _rows(results, cfg) -> list:
    """One row per network and layer: its gradient norms at initialisation and over the first epoch."""
    rows = []
    for label, res in results.items():
        for layer in range(cfg["depth"] + 1):
            rows.append({"network": label, "layer": layer + 1,
                         "grad_norm_init": res["init"][layer],
                         "relative_to_last_layer": res["init"][layer] / res["init"][-1],
                         "grad_norm_first_epoch_mean": float(res["steps"][:, layer].mean()),
                         "grad_norm_end_of_epoch": float(res["steps"][-1, layer])})
    return rows


def study(small: bool, seed: int) -> _runner.Outcome:
    """One epoch of each network in NETWORKS; the table has one row per network and layer."""
    cfg = SMALL if small else FULL
    x, y = _data.mixture_classification(cfg["n"], seed)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    with _report.single_thread():
        results = {label: first_epoch(act, init, x, y, cfg, seed) for label, (act, init) in NETWORKS.items()}
    summary = "; ".join(f"{label}: layer 1 gets {res['init'][0] / res['init'][-1]:.1e}× the last layer's gradient "
                        f"(loss {res['loss_before']:.2f} → {res['loss_after']:.2f} after one epoch)"
                        for label, res in results.items())
    steps = -(-cfg["n"] // cfg["batch"])
    setup = (f"Networks of {cfg['depth']} hidden layers of {cfg['width']} units and a 10-way softmax output, on a "
             f"synthetic 10-class problem ({cfg['n']} samples, 64 standardised features). Gradient norms "
             "‖dL/dW_l‖ (Frobenius) at initialisation on 512 samples, then at each of the "
             f"{steps} steps of one epoch of SGD (lr {cfg['lr']}, batch {cfg['batch']}). "
             "relative_to_last_layer = layer's norm / output layer's norm at initialisation.")
    return _runner.Outcome("Vanishing gradients: sigmoid against ReLU + He", _rows(results, cfg),
                           _plot(results, cfg), setup, summary, CAPTION)


def run(out_dir: str, small: bool = False, seed: int = 0) -> dict:
    """Run the vanishing-gradient study; writes vanishing_gradients.{png,csv,md} into `out_dir`.

    Returns {"png", "csv", "markdown", "summary"}.
    """
    return _runner.run(NAME, out_dir, study, small, seed)
