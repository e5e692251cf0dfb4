"""Universal approximation: fit a 1-D function with one hidden layer of growing width, and with the
same number of units split over two hidden layers.

One hidden layer of enough tanh units can approximate any continuous function on an interval;
the theorem says nothing about how many units, nor whether gradient descent finds the weights.
Each network trains full-batch with Adam (cosine-decayed learning rate) on 128 noise-free samples
of f on [-1, 1]; for each size the run (learning rate × seed) with the lowest *training* loss is
kept and its error is measured on a 1001-point grid. The first layer uses He-uniform weights and
biases uniform in [-2, 2], so that the units' centres −b/w spread over the input range (with zero
biases every tanh would be centred at x = 0).
"""
from __future__ import annotations

import numpy as np

from .. import Dense, LearningRateScheduler, Sequential, optim
from . import _report, _runner

NAME = "universal-approximation"
QUESTION = ("How does the error of one hidden layer fall as it widens, and do the same units do better in two "
            "layers?")
CAPTION = ("Left and middle: the test error against hidden units and against parameters, log-log, for one and "
           "two hidden layers: look at how steeply it falls as the layer widens. Right: the fits of one hidden "
           "layer against the target function.")
FULL = {"units": (1, 2, 4, 8, 16, 32, 64), "lrs": (0.03, 0.1), "seeds": 2, "epochs": 4000, "n": 128}
SMALL = {"units": (2, 4, 16, 64), "lrs": (0.03,), "seeds": 1, "epochs": 1500, "n": 128}


def target(x):
    """f(x) = sin(2πx) + 0.4·sin(6πx)·exp(−2x²): a slow wave with faster ripples near 0."""
    return np.sin(2 * np.pi * x) + 0.4 * np.sin(6 * np.pi * x) * np.exp(-2 * x ** 2)


def _spread_bias(shape, rng, dtype):
    """First-layer biases uniform in [-2, 2]: with He-uniform weights the centres −b/w cover [-1, 1]."""
    return rng.uniform(-2.0, 2.0, size=shape).astype(dtype)


def fit_network(hidden, x, y, lr, epochs, seed):
    """Train a tanh network with the given hidden widths; returns (model, training MSE)."""
    layers = [Dense(units, activation="tanh", kernel_initializer="he_uniform",
                    bias_initializer=_spread_bias if i == 0 else "zeros") for i, units in enumerate(hidden)]
    model = Sequential(layers + [Dense(1)], input_dim=1, seed=seed, dtype="float64")
    model.compile(optim.Adam(lr=lr), "mse")
    schedule = optim.schedules.CosineDecay(lr, t_max=epochs, lr_min=lr / 100)
    model.fit(x, y, epochs=epochs, batch_size=x.shape[0], verbose=0, seed=seed,
              callbacks=[LearningRateScheduler(schedule)])
    return model, model.evaluate(x, y)["loss"]


def best_fit(hidden, x, y, cfg, seed):
    """The (model, training MSE, lr, seed) with the lowest training loss over the lr × seed grid."""
    best = None
    for lr in cfg["lrs"]:
        for s in range(seed, seed + cfg["seeds"]):
            model, loss = fit_network(hidden, x, y, lr, cfg["epochs"], s)
            if best is None or loss < best[1]:
                best = (model, loss, lr, s)
    return best


def _units(row) -> str:
    return f"{row['units']} unit{'s' if row['units'] != 1 else ''}"


def _plot(rows, fits, x_grid):
    fig, (ax_err, ax_params, ax_fit) = _report.new_figure(3)
    for i, depth in enumerate((1, 2)):
        label = f"{depth} hidden layer{'s' if depth > 1 else ''}"
        mine = [r for r in rows if r["hidden_layers"] == depth]
        ax_err.plot([r["units"] for r in mine], [r["test_mse"] for r in mine], "o-", color=f"C{i}", label=label)
        ax_params.plot([r["params"] for r in mine], [r["test_mse"] for r in mine], "o-", color=f"C{i}", label=label)
    ax_params.set(xscale="log", yscale="log", xlabel="parameters", ylabel="test MSE",
                  title="The same errors against parameters")
    ax_params.legend(fontsize=8)
    ax_err.set(xscale="log", yscale="log", xlabel="hidden units (total)", ylabel="test MSE",
               title="Approximation error against units")
    ax_err.set_xticks([r["units"] for r in rows if r["hidden_layers"] == 1])
    ax_err.set_xticklabels([str(r["units"]) for r in rows if r["hidden_layers"] == 1])
    ax_err.legend(fontsize=8)
    ax_fit.plot(x_grid, target(x_grid), color="k", lw=2.5, alpha=0.35, label="target f")
    for i, (label, pred) in enumerate(fits):
        ax_fit.plot(x_grid, pred, color=f"C{i + 2}", lw=1.1, label=label)
    ax_fit.set(xlabel="x", ylabel="y", title="Fits with one hidden layer")
    ax_fit.legend(fontsize=7)
    return fig


def _fit_sizes(x, y, x_grid, y_grid, cfg, seed) -> tuple:
    """(rows, fits): one row per (depth, units) network, and the one-layer fits to draw."""
    rows, fits = [], []
    with _report.single_thread():
        for depth in (1, 2):
            for units in cfg["units"]:
                if depth == 2 and units < 2:
                    continue
                hidden = (units,) if depth == 1 else (units // 2, units - units // 2)
                model, train_mse, lr, used_seed = best_fit(hidden, x, y, cfg, seed)
                pred = model.predict(x_grid)
                rows.append({"hidden_layers": depth, "units": units, "shape": "-".join(map(str, hidden)),
                             "params": model.count_params(), "train_mse": train_mse,
                             "test_mse": float(np.mean((pred - y_grid) ** 2)), "lr": lr, "seed": used_seed})
                if depth == 1 and units in [u for u in cfg["units"] if u >= 2][:3]:
                    fits.append((f"{units} units", pred.ravel()))
    return rows, fits


def _summary(rows) -> str:
    one = [r for r in rows if r["hidden_layers"] == 1]
    two = [r for r in rows if r["hidden_layers"] == 2]
    best_one = min(one, key=lambda r: r["test_mse"])
    return (f"one hidden layer: test MSE {one[0]['test_mse']:.2g} with {_units(one[0])}, "
            f"{best_one['test_mse']:.2g} at best ({_units(best_one)}), {one[-1]['test_mse']:.2g} with "
            f"{_units(one[-1])}; the same {two[-1]['units']} units in two layers: {two[-1]['test_mse']:.2g}")


def study(small: bool, seed: int) -> _runner.Outcome:
    """Fit the target with each width, in one and in two hidden layers; one table row per network."""
    cfg = SMALL if small else FULL
    x = np.linspace(-1.0, 1.0, cfg["n"]).reshape(-1, 1)
    x_grid = np.linspace(-1.0, 1.0, 1001).reshape(-1, 1)
    rows, fits = _fit_sizes(x, target(x), x_grid, target(x_grid), cfg, seed)
    setup = (f"Target f(x) = sin(2πx) + 0.4·sin(6πx)·exp(−2x²) on [-1, 1]; {cfg['n']} training points, test on a "
             f"1001-point grid, no noise. tanh hidden units, linear output, MSE loss; Adam for {cfg['epochs']} "
             f"full-batch steps with cosine decay to lr/100, lr in {list(cfg['lrs'])} × {cfg['seeds']} seed(s), "
             "keeping the run with the lowest training loss. Two layers split the units evenly.")
    return _runner.Outcome("Universal approximation: error against width", rows, _plot(rows, fits, x_grid.ravel()),
                           setup, _summary(rows), CAPTION)


def run(out_dir: str, small: bool = False, seed: int = 0) -> dict:
    """Run the universal-approximation study; writes universal_approximation.{png,csv,md}.

    Returns {"png", "csv", "markdown", "summary"}.
    """
    return _runner.run(NAME, out_dir, study, small, seed)
