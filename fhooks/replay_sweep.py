"""What would each setting have done? ``replay`` over a grid of hook settings, one row per setting. Pure.

>>> from fhooks.hooks import early_stopping
>>> rows = [{"epoch": e, "step": e, "val_loss": v} for e, v in enumerate([1.0, 0.5, 0.6, 0.7, 0.4, 0.8, 0.9])]
>>> print(sweep(lambda patience: early_stopping("val_loss", patience=patience), rows, patience=[1, 2, 3]))
patience  stop epoch  best val_loss  kept checkpoints
1         2           0.5            -
2         3           0.5            -
3         never       0.4            -
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from fhooks.core.hook import HookLike, instances
from fhooks.errors import InvalidArgument
from fhooks.replay import ReplayReport, Row, read_metrics, replay

__all__ = ["SweepReport", "SweepRow", "monitored", "sweep"]


def monitored(hook: HookLike) -> tuple[str, str] | None:
    """``(metric, mode)`` of the first hook in the expression that monitors a metric, or None.

    >>> from fhooks.hooks import early_stopping
    >>> monitored(early_stopping("val_acc", mode="max"))
    ('val_acc', 'max')
    """
    for inner in instances([hook], object):
        metric, mode = getattr(inner, "monitor", None), getattr(inner, "mode", None)
        if isinstance(metric, str) and mode in ("min", "max"):
            return metric, mode
    return None


def epoch_values(table: Iterable[Mapping[str, float]], metric: str) -> dict[int, float]:
    """The last value of ``metric`` logged in each epoch, by epoch.

    >>> epoch_values([{"epoch": 0, "loss": 2.0}, {"epoch": 0, "loss": 1.0}, {"epoch": 1, "x": 3.0}], "loss")
    {0: 1.0}
    """
    values: dict[int, float] = {}
    for i, row in enumerate(table):
        if metric in row:
            values[int(row.get("epoch", i))] = row[metric]
    return values


def best_value(report: ReplayReport, metric: str, mode: str) -> float | None:
    """The best epoch value of ``metric`` up to the stop (the whole run when it never stopped); NaN never wins."""
    last = math.inf if report.stopped_epoch is None else report.stopped_epoch
    seen = [v for e, v in epoch_values(report.table, metric).items() if e <= last and not math.isnan(v)]
    return (min if mode == "min" else max)(seen) if seen else None


@attrs.frozen
class SweepRow:
    """One setting: its values, the stop epoch (None: never), the best value up to it, the kept checkpoints."""

    settings: Mapping[str, Any]
    stopped_epoch: int | None
    best: float | None
    kept_checkpoints: tuple[str, ...]
    report: ReplayReport = attrs.field(repr=False, eq=False)


@attrs.frozen
class SweepReport:
    """The rows of a sweep, in grid order, and the metric the best values are of."""

    metric: str
    rows: tuple[SweepRow, ...]

    def __str__(self) -> str:
        names = list(self.rows[0].settings) if self.rows else []
        header = [*names, "stop epoch", f"best {self.metric}", "kept checkpoints"]
        table = [[*(str(r.settings[n]) for n in names), "never" if r.stopped_epoch is None else str(r.stopped_epoch),
                  "-" if r.best is None else f"{r.best:.6g}", ", ".join(r.kept_checkpoints) or "-"] for r in self.rows]
        widths = [max(len(line[i]) for line in [header, *table]) for i in range(len(header))]
        return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in [header, *table])


def sweep(build: Callable[..., HookLike], metrics: str | os.PathLike[str] | Iterable[Row], *,
          metric: str | None = None, **grid: Iterable[Any]) -> SweepReport:
    """Replay ``build(**setting)`` on ``metrics`` for every setting of the ``grid`` (all combinations, in order).

    Args:
        build: makes the hook expression from one setting's keyword arguments.
        metrics: a ``metrics.csv`` path or rows, as for :func:`fhooks.replay` (read once).
        metric: the metric whose best value each row shows (default: the hook's monitor).
        grid: each keyword's values, e.g. ``patience=range(1, 11), min_delta=[0.0, 0.01]``.

    Raises:
        InvalidArgument: an empty grid or an empty list of values; no ``metric`` and a hook that monitors none.

    >>> from fhooks.hooks import early_stopping
    >>> rows = [{"epoch": e, "step": e, "val_loss": v} for e, v in enumerate([1.0, 0.5, 0.6, 0.7])]
    >>> [r.stopped_epoch for r in sweep(lambda patience: early_stopping(patience=patience), rows, patience=[1, 2, 3]).rows]
    [2, 3, None]
    """
    if not grid or any(not list(values) for values in grid.values()):
        raise InvalidArgument(f"sweep: give each setting at least one value, e.g. patience=range(1, 11); got "
                              f"{ {k: list(v) for k, v in grid.items()} }")
    table = read_metrics(metrics)
    names, choices = list(grid), [list(v) for v in grid.values()]
    rows = []
    for values in itertools.product(*choices):
        setting = dict(zip(names, values))
        hook = build(**setting)
        name, mode = _watched(hook, metric)
        report = replay(hook, table)
        rows.append(SweepRow(setting, report.stopped_epoch, best_value(report, name, mode), report.kept_checkpoints,
                             report))
    return SweepReport(name, tuple(rows))


def _watched(hook: HookLike, metric: str | None) -> tuple[str, str]:
    """The metric to report the best value of, and its mode (the monitor's when it is that metric, else min)."""
    found = monitored(hook)
    if metric is None:
        if found is None:
            raise InvalidArgument(f"sweep: {hook!r} monitors no metric; pass metric= to say which best value to show")
        return found
    return metric, found[1] if found and found[0] == metric else "min"
