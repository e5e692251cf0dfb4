"""Training curves: loss and metrics per epoch, train against validation (matplotlib, an optional extra).

The figures are built with matplotlib's object API (`matplotlib.figure.Figure`), never pyplot: no
backend is selected or changed, no display is needed, and a notebook can still show the returned
figure. Saving to .png renders with the Agg canvas.
"""
from __future__ import annotations

import os

INSTALL_HINT = "plotting needs matplotlib, which is an optional extra: pip install 'denso[plot]' (or pip install matplotlib)"


def require_matplotlib():
    """matplotlib's Figure class, or ImportError naming the extra to install.

    The Agg canvas is imported too: every figure here is rendered with it, so a matplotlib without
    it fails now rather than after a long training run.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return Figure


def history_panels(history: dict, metrics=None) -> list:
    """[(name, train values, validation values or None)] for each metric, loss first.

    `metrics` restricts the panels to those names (without the "val_" prefix). "lr" gets its own
    panel when recorded.
    """
    names = [k for k in history if not k.startswith("val_")]
    names += [k[4:] for k in history if k.startswith("val_") and k[4:] not in history]
    names.sort(key=lambda k: (k != "loss", k == "lr"))
    if metrics is not None:
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        unknown = [m for m in metrics if m not in names]
        if unknown:
            raise ValueError(f"no recorded values for {unknown}; the history has {names}")
        names = [k for k in names if k in metrics]
    return [(k, history.get(k), history.get("val_" + k)) for k in names]


def plot_history(history, path=None, metrics=None, title=None, log_loss: bool = False):
    """Plot a History (or its `.history` dict): one panel per metric, train and validation curves.

    Args:
        history: a denso History, or a dict name → per-epoch values as History.history.
        path: where to save the figure (.png, or any format matplotlib knows from the extension);
            None only returns it.
        metrics: the names to plot (default: all recorded, loss first).
        title: a title above the panels.
        log_loss: draw the loss on a logarithmic axis.

    Returns:
        the matplotlib Figure.

    Raises:
        ImportError naming the extra to install when matplotlib is missing; ValueError when the
        history is empty.

    Example:
        >>> history = model.fit(x, y, epochs=20, validation_split=0.1, verbose=0)
        >>> history.plot("curves.png")
    """
    Figure = require_matplotlib()
    record = getattr(history, "history", history)
    if not isinstance(record, dict) or not record or not any(len(v) for v in record.values()):
        raise ValueError("the history is empty: nothing to plot (train for at least one epoch first)")
    panels = history_panels(record, metrics)
    epochs = list(getattr(history, "epoch", None) or range(max(len(v) for v in record.values())))
    fig = Figure(figsize=(4.5 * len(panels), 3.6), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        _draw_history_panel(ax, panel, epochs, log_loss)
    if title:
        fig.suptitle(title)
    if path is not None:
        save_figure(fig, path)
    return fig


def _draw_history_panel(ax, panel, epochs, log_loss: bool) -> None:
    """One metric's train and validation curves; the loss (when asked) and the lr on a log axis."""
    name, train, val = panel
    for values, label, style in ((train, "train", "-"), (val, "validation", "--")):
        if values:
            ax.plot([e + 1 for e in epochs[:len(values)]], values, style, marker="o", markersize=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(name)
    ax.set_title(name)
    if (log_loss and name == "loss") or (name == "lr" and min(train or [0]) > 0):
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend()


def save_figure(fig, path, dpi: int = 110) -> None:
    """Save `fig` to `path` (format from the extension, PNG by default) through a temporary file."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower().lstrip(".") or "png"
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.tmp")
    try:
        fig.savefig(tmp, format=ext, dpi=dpi)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
