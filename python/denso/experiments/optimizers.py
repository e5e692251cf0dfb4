"""Gradient descent, momentum, RMSprop and Adam on a linear regression y ≈ w·x + b.

With the raw feature (x between 5 and 25) the loss surface over (w, b) is a long narrow valley:
its Hessian 2·[[E x², E x], [E x, 1]] has a condition number in the thousands, so gradient descent
must take a small step for w and then crawls along the valley towards b. Standardising x makes
the contours round and every method converges in a few steps. Each optimizer runs full-batch,
from (w, b) = (0, 0), with the learning rate from a grid that makes it converge fastest.
"""
from __future__ import annotations

import numpy as np

from .. import Tensor, dense, mse, optim
from . import _report, _runner

NAME = "optimizers"
QUESTION = ("Why do momentum, RMSprop and Adam beat plain gradient descent on a badly scaled feature, and "
            "what does standardising the feature change?")
CAPTION = ("Top: the (w, b) paths over the loss contours, raw feature (left) and standardised (right): on the raw "
           "one gradient descent crawls along a narrow valley. Bottom: the loss above the optimum per step, log "
           "scale: look at how far each method still is after the last step, and how standardising closes the gap.")
OPTIMIZERS = {
    "gradient descent": lambda params, lr: optim.SGD(params, lr=lr),
    "momentum 0.9": lambda params, lr: optim.SGD(params, lr=lr, momentum=0.9),
    "RMSprop": lambda params, lr: optim.RMSprop(params, lr=lr),
    "Adam": lambda params, lr: optim.Adam(params, lr=lr),
}
FULL = {"steps": 200, "lrs": 10.0 ** np.arange(-5.0, 0.76, 0.25)}
SMALL = {"steps": 80, "lrs": 10.0 ** np.arange(-4.0, 0.6, 0.5)}


def make_data(seed: int, n: int = 100):
    """(x, y): x uniform in [5, 25] (unnormalised), y = 0.8·x − 3 + N(0, 1.5²) noise, float64."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(5.0, 25.0, size=n)
    return x, 0.8 * x - 3.0 + rng.normal(0.0, 1.5, size=n)


def descend(x, y, make_optimizer, lr, steps):
    """Full-batch training of (w, b) from (0, 0) with the denso graph; returns (losses, trajectory).

    losses[t] and trajectory[t] = (w, b) are taken before update t; the last entry is after all steps.
    """
    w = Tensor(np.zeros((1, 1)), requires_grad=True)
    b = Tensor(np.zeros(1), requires_grad=True)
    opt = make_optimizer([w, b], lr)
    X, Y = x.reshape(-1, 1), y.reshape(-1, 1)
    losses, path = [], []
    for _ in range(steps + 1):
        opt.zero_grad()
        loss = mse(dense(X, w, b), Y)
        losses.append(loss.item())
        path.append((w.data[0, 0], b.data[0]))
        if not np.isfinite(losses[-1]):
            break
        loss.backward()
        opt.step()
    return np.array(losses), np.array(path)


def best_run(x, y, make_optimizer, lrs, steps, optimum):
    """(lr, losses, path) of the fastest learning rate: the lowest mean log10(loss − optimum) over the
    run (this favours fast, steady convergence over a lucky final step). Diverged runs lose."""
    best = None
    for lr in lrs:
        with np.errstate(over="ignore", invalid="ignore"):
            losses, path = descend(x, y, make_optimizer, float(lr), steps)
        finite = len(losses) == steps + 1 and np.isfinite(losses).all()
        score = np.mean(np.log10(np.maximum(losses - optimum, 1e-12))) if finite else np.inf
        if best is None or score < best[0]:
            best = (score, float(lr), losses, path)
    return best[1:]


def _loss_grid(x, y, path_points, solution):
    """(W, B, excess loss) on a grid around the optimum and the trajectories, for the contour plot."""
    pts = np.vstack([path_points, solution[None, :]])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.15 * (hi - lo) + 1e-3
    w = np.linspace(lo[0] - pad[0], hi[0] + pad[0], 160)
    b = np.linspace(lo[1] - pad[1], hi[1] + pad[1], 160)
    W, B = np.meshgrid(w, b)
    # mean((w·x + b − y)²) expanded in the data moments: no (grid × samples) array needed
    m = {k: v for k, v in (("xx", np.mean(x * x)), ("x", np.mean(x)), ("xy", np.mean(x * y)),
                           ("y", np.mean(y)), ("yy", np.mean(y * y)))}
    loss = W * W * m["xx"] + 2 * W * B * m["x"] + B * B - 2 * W * m["xy"] - 2 * B * m["y"] + m["yy"]
    best = np.mean((solution[0] * x + solution[1] - y) ** 2)
    return W, B, np.maximum(loss - best, 1e-12)


def _plot(results, data):
    fig, axes = _report.new_figure(2, 2, width=4.6, height=3.6)
    for col, (setting, runs) in enumerate(results.items()):
        x, y, solution, optimum = data[setting]
        ax_path, ax_loss = axes[col], axes[2 + col]
        paths = np.vstack([run["path"] for run in runs.values()])
        W, B, excess = _loss_grid(x, y, paths, solution)
        levels = np.logspace(np.log10(max(excess.min(), 1e-6)), np.log10(excess.max()), 14)
        ax_path.contour(W, B, excess, levels=levels, colors="0.7", linewidths=0.6)
        for i, (name, run) in enumerate(runs.items()):
            gd = name == "gradient descent"  # drawn on top: it is the short path the others hide
            ax_path.plot(run["path"][:, 0], run["path"][:, 1], "-", lw=2.0 if gd else 1.0, color=f"C{i}",
                         label=name, zorder=3 if gd else 2)
            ax_loss.plot(np.maximum(run["losses"] - optimum, 1e-12), color=f"C{i}",
                         label=f"{name} (lr {run['lr']:.2g})")
        ax_path.plot(*solution, "k*", ms=10, label="least squares")
        ax_path.set(xlabel="w", ylabel="b", title=f"(w, b) trajectories, {setting} x")
        ax_path.legend(fontsize=7)
        ax_loss.set(yscale="log", xlabel="step", ylabel="loss − optimal loss (floor 1e-12)", title=f"Loss curves, {setting} x")
        ax_loss.legend(fontsize=7)
    return fig


def _compare(settings, y, cfg) -> tuple:
    """(results, data, rows): each optimizer's fastest run on each feature setting, and the table."""
    results, data, rows = {}, {}, []
    for setting, x in settings.items():
        solution = np.linalg.lstsq(np.c_[x, np.ones_like(x)], y, rcond=None)[0]
        optimum = float(np.mean((solution[0] * x + solution[1] - y) ** 2))
        data[setting] = (x, y, solution, optimum)
        results[setting] = {}
        for name, make in OPTIMIZERS.items():
            with _report.single_thread():
                lr, losses, path = best_run(x, y, make, cfg["lrs"], cfg["steps"], optimum)
            results[setting][name] = {"lr": lr, "losses": losses, "path": path}
            rows.append({"features": setting, "optimizer": name, "best_lr": lr, "steps": cfg["steps"],
                         "final_loss": float(losses[-1]), "excess_loss": float(losses[-1]) - optimum,
                         "w": float(path[-1, 0]), "b": float(path[-1, 1]),
                         "w_opt": float(solution[0]), "b_opt": float(solution[1])})
    return results, data, rows


def study(small: bool, seed: int) -> _runner.Outcome:
    """Every optimizer on the raw and on the standardised feature; one table row per pair."""
    cfg = SMALL if small else FULL
    x_raw, y = make_data(seed)
    settings = {"unnormalised": x_raw, "normalised": (x_raw - x_raw.mean()) / x_raw.std()}
    results, data, rows = _compare(settings, y, cfg)
    raw = {r["optimizer"]: r["excess_loss"] for r in rows if r["features"] == "unnormalised"}
    norm = max(r["excess_loss"] for r in rows if r["features"] == "normalised")
    summary = (f"after {cfg['steps']} full-batch steps on the unnormalised feature, loss above the optimum: "
               + ", ".join(f"{name} {value:.2g}" for name, value in raw.items())
               + f"; with the standardised feature all four end within {max(norm, 0.0):.1g} of it")
    setup = ("Data: 100 samples, x uniform in [5, 25], y = 0.8·x − 3 + N(0, 1.5²). Loss: mean squared error of "
             "w·x + b, full batch, from (w, b) = (0, 0). Each optimizer uses the learning rate of the grid "
             f"10^-5 … 10^{np.log10(cfg['lrs'][-1]):.2g} that converges fastest (lowest mean log excess loss "
             "over the run). 'normalised' "
             "standardises x to zero mean and unit variance (so w and b mean something else there). "
             "excess_loss is the final loss minus the least-squares loss.")
    return _runner.Outcome("Optimizers on linear regression: feature scaling", rows, _plot(results, data), setup,
                           summary, CAPTION)


def run(out_dir: str, small: bool = False, seed: int = 0) -> dict:
    """Run the optimizer comparison; writes optimizers.{png,csv,md} into `out_dir`.

    Returns {"png", "csv", "markdown", "summary"}.
    """
    return _runner.run(NAME, out_dir, study, small, seed)
