"""What every experiment's run() does around its study: check matplotlib, then write the figure and the tables."""
from __future__ import annotations

import dataclasses

from . import _report


@dataclasses.dataclass
class Outcome:
    """What a study found: its table, its figure and the words around them."""

    title: str       # the markdown page's heading
    rows: list       # the table: dicts with the same keys, one per configuration measured
    figure: object   # a matplotlib Figure made with _report.new_figure
    setup: str       # what was run, for the page
    summary: str     # the finding in one line
    caption: str     # under the figure: what its panels show and what to look at


def run(name: str, out_dir: str, study, small: bool, seed: int) -> dict:
    """Run `study(small, seed) -> Outcome` and write name.{png,csv,md} into `out_dir`.

    Returns {"png", "csv", "markdown", "summary"}, the result every experiment's run() gives.
    """
    _report.require_matplotlib()  # fail before training, not after
    outcome = study(small, seed)
    out = _report.paths(out_dir, name)
    _report.save_figure(outcome.figure, out["png"], dpi=_report.DPI)
    _report.write_tables(outcome.rows, out, outcome.title, outcome.setup, outcome.summary, outcome.caption)
    return _report.finish(out, outcome.summary)
