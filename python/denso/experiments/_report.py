"""Shared output of the experiments: one CSV, one markdown page and one PNG per run.

Figures are drawn on `matplotlib.figure.Figure` objects with the Agg canvas, never through
pyplot, so no global backend is switched and no figure stays open after saving.
"""
from __future__ import annotations

import csv
import math
import os
import time

from ..plotting import require_matplotlib, save_figure  # noqa: F401 (the experiments' figures use them)
from .._core import get_num_threads, set_num_threads

DPI = 90  # the experiments save their figures at 90 dpi (plot_history uses 110)


def new_figure(ncols: int, nrows: int = 1, width: float = 4.2, height: float = 3.4):
    """(figure, axes list) of nrows × ncols panels, drawn with the Agg canvas."""
    Figure = require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, [ax for row in axes for ax in row]


def readable_log_axis(ax, which: str) -> None:
    """Tick labels of a log axis a projected figure can show: plain numbers (0.05, 2, 300k) at the
    sparsest of 1, 1-2-5, 1-2-3-5 steps per decade that gives at least three ticks, and no minor labels
    (matplotlib labels the minor ticks of a short log axis, and they run together)."""
    from matplotlib import ticker
    low, high = ax.get_xlim() if which == "x" else ax.get_ylim()
    axis = ax.xaxis if which == "x" else ax.yaxis
    if low > 0 and high > low:
        decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
        for steps in ((1,), (1, 2, 5), (1, 2, 3, 5), (1, 1.5, 2, 3, 4, 5, 6, 8)):
            ticks = [m * 10.0 ** d for d in decades for m in steps if low <= m * 10.0 ** d <= high]
            if len(ticks) >= 3:
                break
        axis.set_major_locator(ticker.FixedLocator(ticks))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: short_number(v)))
    axis.set_minor_formatter(ticker.NullFormatter())


def short_number(value: float) -> str:
    """A tick label: 300k, 1.5M, 0.02, 4."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:g}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def paths(out_dir: str, name: str) -> dict:
    """{"png", "csv", "markdown"} file paths for experiment `name` in `out_dir` (created)."""
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.join(out_dir, name.replace("-", "_"))
    return {"png": stem + ".png", "csv": stem + ".csv", "markdown": stem + ".md"}


def fmt(value) -> str:
    """A table cell: 4 significant digits for floats, '—' for missing values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    if value == 0 or math.isinf(value):
        return f"{value:g}"
    return f"{value:.4g}" if 1e-3 <= abs(value) < 1e5 else f"{value:.3e}"


def write_tables(rows: list, out: dict, title: str, setup: str, summary: str, caption: str) -> None:
    """Write `rows` (dicts with the same keys) to out["csv"] and a markdown page to out["markdown"]: the
    setup, the table, the result, and the figure with its caption line."""
    columns = list(rows[0])
    with open(out["csv"], "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row[k] is None else row[k]) for k in columns})
    lines = [f"# {title}", "", setup.strip(), "",
             "| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(fmt(row[k]) for k in columns) + " |" for row in rows]
    lines += ["", f"**Result:** {summary}", "", f"![{title}]({os.path.basename(out['png'])})", "",
              f"*Figure: {caption}*", ""]
    with open(out["markdown"], "w") as f:
        f.write("\n".join(lines))


def finish(out: dict, summary: str) -> dict:
    """The run() result: the written paths and the summary line."""
    return {"png": out["png"], "csv": out["csv"], "markdown": out["markdown"], "summary": summary}


class Stopwatch:
    """Accumulates the time spent between start() and stop() calls (training time without evaluation)."""

    def __init__(self):
        self.total = 0.0
        self._since = None

    def start(self) -> None:
        self._since = time.perf_counter()

    def stop(self) -> float:
        if self._since is not None:
            self.total += time.perf_counter() - self._since
            self._since = None
        return self.total


class single_thread:
    """Context: run denso's kernels on one thread, restoring the previous count on exit.

    For experiments whose layers are tiny (a few dozen units): their products are too small for
    threads to pay, and synchronising threads only adds noise to the timings.
    """

    def __enter__(self):
        self._previous = get_num_threads()
        set_num_threads(1)
        return self

    def __exit__(self, *exc) -> None:
        set_num_threads(self._previous)
