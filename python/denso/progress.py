"""The training progress display: a live bar on a terminal, one summary line per epoch elsewhere."""
from __future__ import annotations

import math
import sys
import time

from ._checks import require_number, require_positive_int

_now = time.perf_counter  # the clock (tests replace it)


def format_value(value) -> str:
    """A log value with 4 decimals, switching to scientific notation below 1e-3 or from 1e5."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isfinite(v) and v != 0 and not 1e-3 <= abs(v) < 1e5:
        return f"{v:.4e}"
    return f"{v:.4f}"


def format_duration(seconds: float) -> str:
    """Seconds as '350ms', '2.1s', '3m07s' or '1h05m'."""
    if seconds < 1:
        return f"{seconds * 1e3:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def _per_step(seconds: float) -> str:
    """Time per step in a readable unit: '850us/step', '26.2ms/step', '1.20s/step'."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f}us/step"
    if seconds < 1:
        return f"{seconds * 1e3:.1f}ms/step"
    return f"{seconds:.2f}s/step"


def _is_tty(stream) -> bool:
    """Whether `stream` is an interactive terminal (False when it cannot tell)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (ValueError, OSError):  # closed or detached streams
        return False


class ProgressBar:
    """Shows training progress: a live bar redrawn in place on a terminal, a line per epoch otherwise.

    On a TTY with verbose=1 the current line is redrawn with '\\r' as batches finish (at most once
    every `interval` seconds, so per-batch updates stay cheap)::

        Epoch 3/10   45/469 [==>...........................]  loss: 0.4312  accuracy: 0.8812  elapsed 2.1s  ETA 19.4s

    and at the end of the epoch it is replaced by the final line with every log (validation too)
    and the epoch time. When the stream is not a TTY (a log file, a notebook capture, a pipe), or
    with verbose=2, only that final line is written, once per epoch, without '\\r'. verbose=0 prints
    nothing.

    Args:
        epochs: total number of epochs (for "Epoch 3/10").
        steps_per_epoch: batches per epoch.
        stream: where to write (default: sys.stdout at the time of writing).
        verbose: 0 silent, 1 live bar on a terminal, 2 one line per epoch.
        interval: minimum seconds between two redraws of the live bar.

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> bar = ProgressBar(epochs=2, steps_per_epoch=10, stream=out)
        >>> bar.epoch_begin(0)
        >>> bar.update(5, {"loss": 0.5})
        >>> bar.epoch_end(0, {"loss": 0.4, "val_loss": 0.45})
        >>> out.getvalue().startswith("Epoch 1/2  10/10  loss: 0.4000  val_loss: 0.4500  time ")
        True
    """

    def __init__(self, epochs: int, steps_per_epoch: int, stream=None, verbose: int = 1, *,
                 interval: float = 0.05, width: int = 30):
        self.epochs = require_positive_int(epochs, "epochs")
        self.steps = require_positive_int(steps_per_epoch, "steps_per_epoch")
        if isinstance(verbose, bool) or verbose not in (0, 1, 2):
            raise ValueError(f"`verbose` must be 0, 1 or 2, got {verbose!r}")
        self.verbose = int(verbose)
        self.interval = require_number(interval, "interval", low=0.0)
        self.width = require_positive_int(width, "width")
        self._stream = stream
        self._start = None
        self._last_draw = -math.inf
        self._drawn = 0  # length of the live line on screen, to blank its leftovers

    @property
    def stream(self):
        """The output stream (sys.stdout unless one was given)."""
        return self._stream if self._stream is not None else sys.stdout

    @property
    def live(self) -> bool:
        """Whether the live bar is shown (verbose=1 on a TTY)."""
        return self.verbose == 1 and _is_tty(self.stream)

    def epoch_begin(self, epoch: int) -> None:
        """Start timing epoch `epoch` (0-based; shown 1-based) and draw an empty bar on a terminal."""
        self._epoch = epoch
        self._start = _now()
        self._last_draw = -math.inf
        self._drawn = 0
        self._live = self.live
        if self._live:
            self._redraw(self._line(0, {}, self._start, final=False))

    def update(self, step: int, logs=None) -> None:
        """Report that `step` batches of this epoch are done, with the running `logs`."""
        if not (0 <= step <= self.steps):
            raise ValueError(f"`step` must be in [0, steps_per_epoch={self.steps}], got {step}")
        if self._start is None:
            self.epoch_begin(getattr(self, "_epoch", 0))
        if not self._live:
            return
        now = _now()
        if now - self._last_draw < self.interval and step != self.steps:
            return
        self._last_draw = now
        self._redraw(self._line(step, logs or {}, now, final=False))

    def epoch_end(self, epoch: int, logs=None) -> None:
        """Write the epoch's final line: all logs and the epoch time."""
        if self._start is None:
            self.epoch_begin(epoch)
        self._epoch = epoch
        if self.verbose:
            line = self._line(self.steps, logs or {}, _now(), final=True)
            if self._live:
                self._redraw(line)
                self.stream.write("\n")
            else:
                self.stream.write(line + "\n")
            self.stream.flush()
        self._start = None

    def _redraw(self, line: str) -> None:
        """Overwrite the live line in place."""
        pad = max(self._drawn - len(line), 0)
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._drawn = len(line)

    def _line(self, step: int, logs: dict, now: float, final: bool) -> str:
        """One display line: epoch, steps, bar (on a terminal), logs, then timing."""
        digits = len(str(self.steps))
        parts = [f"Epoch {self._epoch + 1}/{self.epochs}", f"{step:>{digits}}/{self.steps}"
                 + (" " + self._bar(step) if self._live else "")]
        parts += [f"{key}: {format_value(value)}" for key, value in logs.items()]
        elapsed = max(now - self._start, 0.0)
        if final:
            parts.append(f"time {format_duration(elapsed)} ({_per_step(elapsed / self.steps)})")
        else:
            eta = format_duration(elapsed / step * (self.steps - step)) if step else "-"
            parts += [f"elapsed {format_duration(elapsed)}", f"ETA {eta}"]
        return "  ".join(parts)

    def _bar(self, step: int) -> str:
        """'[=====>......]' filled in proportion to step / steps."""
        filled = int(self.width * step / self.steps)
        if step >= self.steps:
            return "[" + "=" * self.width + "]"
        head = ">" if step else "."
        return "[" + "=" * filled + head + "." * (self.width - filled - 1) + "]"
