"""Plain progress lines, for output that is not a terminal (CI logs, files): no carriage returns.

A :class:`PlainBar` prints one line when its stage ends, and at most one line
every ``interval`` seconds in between (``FHOOKS_PROGRESS_INTERVAL``, default 5):

>>> bar = PlainBar("Epoch 0", 4, interval=0.0)
>>> bar.update(2, 4, "Epoch 0", {"loss": 0.5})
Epoch 0: 2/4 [00:00] loss=0.500
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Mapping
from typing import Any


def plain_interval() -> float:
    """Seconds between two progress lines of one bar (``FHOOKS_PROGRESS_INTERVAL``, default 5)."""
    return float(os.environ.get("FHOOKS_PROGRESS_INTERVAL", "5"))


def format_value(value: Any) -> str:
    """A metric as progress bars show it: floats with 3 decimals, or in scientific notation when tiny or huge.

    >>> [format_value(v) for v in (0.5, 1.23456, 1e-5, 123456.0, 3, float("nan"))]
    ['0.500', '1.235', '1e-05', '1.23e+05', '3', 'nan']
    """
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.3f}" if value == 0 or 1e-3 <= abs(value) < 1e5 else f"{value:.3g}"
    return str(value)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class PlainBar:
    """One bar drawn as occasional lines on ``sys.stdout``."""

    def __init__(self, description: str, total: int | None, interval: float | None = None) -> None:
        self.interval = plain_interval() if interval is None else interval
        self.started = time.monotonic()
        self.last_line = -math.inf
        self.last_text: tuple[Any, ...] = ()
        self.reset(total, description)

    def reset(self, total: int | None, description: str) -> None:
        """Start counting again (a new epoch)."""
        self.total, self.description, self.count = total, description, 0
        self.started = time.monotonic()

    def line(self, count: int, postfix: Mapping[str, Any]) -> str:
        """The text of one progress line."""
        total = "?" if self.total is None else str(self.total)
        shown = ", ".join(f"{k}={format_value(v)}" for k, v in postfix.items())
        text = f"{self.description}: {count}/{total} [{_clock(time.monotonic() - self.started)}]"
        return f"{text} {shown}" if shown else text

    def _print(self, count: int, postfix: Mapping[str, Any]) -> None:
        same = (self.description, count, self.total, tuple(postfix.items()))
        if same != self.last_text:  # a stage end right after an update at the same count says nothing new
            self.last_text = same
            print(self.line(count, postfix), file=sys.stdout, flush=True)

    def update(self, count: int, total: int | None, description: str, postfix: Mapping[str, Any],
               final: bool = False) -> None:
        """Print a line now if ``final`` or if ``interval`` seconds passed since the last one."""
        self.count, self.total, self.description = count, total, description
        now = time.monotonic()
        if final or now - self.last_line >= self.interval:
            self.last_line = now
            self._print(count, postfix)

    def close(self) -> None:
        """Nothing to clear: lines stay."""


class Renderer:
    """What every renderer shares: its style, and :meth:`draw` for each :class:`~fhooks.hooks.progress.Render`.

    A renderer draws every render it gets: the hook has already throttled the updates to one
    per ``min_interval`` seconds (see :func:`~fhooks.hooks.progress.progress_bar`).
    """

    def __init__(self, style: Any) -> None:
        self.style = style

    def draw(self, effect: Any, ctx: Any) -> None:  # pragma: no cover - abstract
        """Carry out one :class:`~fhooks.hooks.progress.Render`."""
        raise NotImplementedError


def postfix(effect: Any, ctx: Any) -> dict[str, Any]:
    """What the train bar shows after its counts: the source's ``get_metrics`` (or ``v_num`` and the
    effect's metrics), then the step's own values."""
    from fhooks.callbacks.progress import standard_metrics

    source = effect.source
    if source is not None:
        shown = dict(source.get_metrics(ctx.trainer, ctx.module))
    else:
        shown = {**standard_metrics(ctx.trainer), **effect.metrics}
    step = effect.step_metrics
    for key in step:
        shown[key] = step[key]
    return shown
