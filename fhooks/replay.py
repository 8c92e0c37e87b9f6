"""``replay``: what would a hook have done on a run already logged? Pure; no torch.

Feed a ``metrics.csv`` (Lightning's ``CSVLogger`` layout, or fhooks') or a list
of dicts to any hook expression and read the epoch it would have stopped at,
the checkpoints it would have kept, and its effects row by row:

>>> from fhooks.core import sequence
>>> from fhooks.hooks import early_stopping, model_checkpoint
>>> rows = [{"epoch": e, "step": 2 * e + 1, "val_loss": v} for e, v in enumerate([3.0, 2.0, 2.5, 2.7, 1.0])]
>>> report = replay(sequence(model_checkpoint(monitor="val_loss"), early_stopping("val_loss", patience=2)), rows)
>>> report.stopped_epoch, report.kept_checkpoints
(3, ('epoch=1-step=4.ckpt',))
>>> print(report)  # doctest: +ELLIPSIS
replay of sequence(model_checkpoint(monitor='val_loss'), early_stopping('val_loss', patience=2)) over 4 rows
  row 0 (epoch 0, step 2) val_loss=3
    -> SaveCheckpoint(path='epoch=0-step=2.ckpt', weights_only=False)
  row 1 (epoch 1, step 4) val_loss=2
    -> SaveCheckpoint(path='epoch=1-step=4.ckpt', weights_only=False)
    -> RemoveCheckpoint(path='epoch=0-step=2.ckpt')
  row 3 (epoch 3, step 8) val_loss=2.7
    -> Stop('Monitored metric val_loss did not improve in the last 2 records. Best score: 2.000. ...')
stopped at epoch 3: Monitored metric val_loss did not improve in the last 2 records. ...
kept checkpoints: epoch=1-step=4.ckpt

How rows become events: rows are grouped by ``epoch``; a *step row* (one with a
per-step column) becomes a ``train_batch_end``; after each epoch's rows come the
validation events (if the epoch has *epoch rows*) and ``train_epoch_end``. Every
event carries the latest value of every column seen so far (Lightning's
``callback_metrics``). ``event.step`` is the row's ``step`` plus ``step_offset``
(Lightning's CSVLogger and the fhooks trainer write ``global_step - 1``); without a ``step`` column it is
``epoch + 1``. A stop ends the replay after the epoch in which it was asked for.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from fhooks.core.effects import Effect, RemoveCheckpoint, SaveCheckpoint, Stop
from fhooks.core.events import Event, RunInfo
from fhooks.core.frozendict import frozendict
from fhooks.core.hook import HookLike, check_hook
from fhooks.errors import InvalidArgument

__all__ = ["ReplayReport", "ReplayRow", "read_metrics", "replay", "replay_events"]

_VALIDATION = ("validation_start", "validation_epoch_start", "validation_epoch_end", "validation_end")
Row = Mapping[str, Any]


@attrs.frozen
class ReplayRow:
    """One row of the table: its values, the events it implied and the hook's effects on them."""

    index: int
    epoch: int
    step: int
    values: Mapping[str, float]
    events: tuple[Event, ...] = ()
    effects: tuple[Effect, ...] = ()


@attrs.frozen
class ReplayReport:
    """What the hook would have done: stop epoch and reasons, kept checkpoints, effects per row."""

    hook: Any
    rows: tuple[ReplayRow, ...]
    stopped_epoch: int | None
    stop_reasons: tuple[str, ...]
    kept_checkpoints: tuple[str, ...]
    state: Any = attrs.field(repr=False)
    end_effects: tuple[Effect, ...] = ()
    #: The whole table, as read (rows past the stop too): what the run itself did.
    table: tuple[Mapping[str, float], ...] = attrs.field(default=(), repr=False)

    @property
    def effects(self) -> tuple[Effect, ...]:
        """Every effect, in order, those of the closing ``train_end``/``fit_end``/``teardown`` last."""
        return tuple(e for row in self.rows for e in row.effects) + self.end_effects

    def __str__(self) -> str:
        lines = [f"replay of {self.hook!r} over {len(self.rows)} rows"]
        for row in self.rows:
            if row.effects:
                values = " ".join(f"{k}={v:g}" for k, v in row.values.items())
                lines.append(f"  row {row.index} (epoch {row.epoch}, step {row.step}) {values}")
                lines.extend(f"    -> {effect!r}" for effect in row.effects)
        if self.end_effects:
            lines.append("  at the end of fit")
            lines.extend(f"    -> {effect!r}" for effect in self.end_effects)
        if self.stopped_epoch is None:
            lines.append("never stopped")
        else:
            lines.append(f"stopped at epoch {self.stopped_epoch}: {'; '.join(self.stop_reasons)}")
        if self.kept_checkpoints:
            lines.append(f"kept checkpoints: {', '.join(self.kept_checkpoints)}")
        return "\n".join(lines)

    def plot(self, metric: str | None = None, *, path: str | os.PathLike[str] | None = None, ax: Any = None) -> Any:
        """Draw ``metric`` per epoch, the stop point and the kept checkpoints; needs matplotlib.

        ``metric`` defaults to the monitor of the hook's first early-stopping or checkpoint hook.
        Saves to ``path`` when given; returns the matplotlib ``Figure``. See :mod:`fhooks.replay_plot`.
        """
        from fhooks.replay_plot import plot_report

        return plot_report(self, metric, path=path, ax=ax)


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"replay: metric value {value!r} is not a number") from None


def read_metrics(source: str | os.PathLike[str] | Iterable[Row]) -> list[dict[str, float]]:
    """The table as a list of ``{column: float}`` dicts; blanks (and None) are left out.

    >>> read_metrics([{"epoch": "0", "step": "1", "val_loss": "", "loss": "0.5"}])
    [{'epoch': 0.0, 'step': 1.0, 'loss': 0.5}]
    """
    if isinstance(source, (str, os.PathLike)):
        with open(source, newline="") as file:
            source = list(csv.DictReader(file))
    rows = []
    for i, row in enumerate(source):
        if not isinstance(row, Mapping):
            raise InvalidArgument(f"replay: each row must be a mapping of column to value, got {row!r}")
        rows.append({str(k): v for k, v in ((k, _number(v)) for k, v in row.items()) if v is not None})
        _check_counters(i, rows[-1])
    return rows


def _check_counters(index: int, row: Mapping[str, float]) -> None:
    """``epoch`` and ``step`` must be whole numbers >= 0 (NaN, inf, 1.5 and -1 are refused)."""
    for name in ("epoch", "step"):
        value = row.get(name)
        if value is not None and not (math.isfinite(value) and value >= 0 and value == int(value)):
            raise InvalidArgument(f"replay: row {index} has {name}={value!r}; {name} must be a whole number >= 0 "
                                  f"(or blank)")


def _step_columns(rows: list[dict[str, float]], epoch_columns: Iterable[str] | None) -> frozenset[str]:
    names = {k for row in rows for k in row} - {"epoch", "step"}
    if epoch_columns is not None:
        return frozenset(names - set(epoch_columns))
    seen: dict[tuple[str, float], set[float]] = {}
    for row in rows:
        for name in row.keys() - {"epoch", "step"}:
            seen.setdefault((name, row.get("epoch", -1.0)), set()).add(row.get("step", -1.0))
    per_step = {name for (name, _), steps in seen.items() if len(steps) > 1}
    return frozenset(n for n in names if n.endswith("_step") or (n in per_step and not n.endswith("_epoch")))


def _epochs(rows: list[dict[str, float]]) -> list[tuple[int, list[int]]]:
    """Consecutive rows of one epoch, as ``(epoch, row indices)``; a row without ``epoch`` is its own epoch."""
    groups: list[tuple[int, list[int]]] = []
    for i, row in enumerate(rows):
        epoch = int(row["epoch"]) if "epoch" in row else (groups[-1][0] + 1 if groups else 0)
        if groups and groups[-1][0] == epoch and "epoch" in row:
            groups[-1][1].append(i)
        else:
            groups.append((epoch, [i]))
    return groups


@attrs.frozen
class _Planned:
    index: int
    epoch: int
    step: int
    events: list[Event]


def _plan(rows: list[dict[str, float]], step_columns: frozenset[str], step_offset: int,
          checkpoint_dir: str) -> tuple[list[Event], list[_Planned], list[Event]]:
    """The events the table implies: ``(head events, events per row, tail events)``."""
    groups = _epochs(rows)
    has_val = any(not (row.keys() & step_columns) for row in rows)
    info = RunInfo(max_epochs=len(groups), num_val_batches=1 if has_val else 0, checkpoint_dir=checkpoint_dir)
    head = [Event("setup", data=info), Event("fit_start", data=info), Event("train_start")]
    known: dict[str, float] = {}
    planned: list[_Planned] = []
    step = 0
    for epoch, indices in groups:
        validates, batch_idx = False, 0
        for n, i in enumerate(indices):
            row = rows[i]
            events = [Event("train_epoch_start", epoch=epoch, step=step, metrics=dict(known))] if n == 0 else []
            step = int(row["step"]) + step_offset if "step" in row else epoch + 1
            known.update((k, v) for k, v in row.items() if k not in ("epoch", "step"))
            if row.keys() & step_columns:
                events.append(Event("train_batch_end", epoch=epoch, step=step, batch_idx=batch_idx,
                                    metrics=dict(known)))
                batch_idx += 1
            else:
                validates = True
            planned.append(_Planned(i, epoch, step, events))
        kinds = (*_VALIDATION, "train_epoch_end") if validates else ("train_epoch_end",)
        planned[-1].events.extend(Event(kind, epoch=epoch, step=step, metrics=dict(known)) for kind in kinds)
    last_epoch = groups[-1][0] + 1 if groups else 0
    tail = [Event(kind, epoch=last_epoch, step=step) for kind in ("train_end", "fit_end", "teardown")]
    return head, planned, tail


def replay_events(metrics: str | os.PathLike[str] | Iterable[Row], *, step_offset: int = 1,
                  epoch_columns: Iterable[str] | None = None, checkpoint_dir: str = "") -> list[Event]:
    """The whole event stream a table implies (before any stop), as :func:`replay` feeds it.

    >>> [e.kind for e in replay_events([{"epoch": 0, "step": 0, "val_loss": 1.0}])][3:]
    ['train_epoch_start', 'validation_start', 'validation_epoch_start', 'validation_epoch_end', \
'validation_end', 'train_epoch_end', 'train_end', 'fit_end', 'teardown']
    """
    rows = read_metrics(metrics)
    head, planned, tail = _plan(rows, _step_columns(rows, epoch_columns), step_offset, checkpoint_dir)
    return [*head, *(e for p in planned for e in p.events), *tail]


def replay(hook: HookLike, metrics: str | os.PathLike[str] | Iterable[Row], *, step_offset: int = 1,
           epoch_columns: Iterable[str] | None = None, checkpoint_dir: str = "") -> ReplayReport:
    """Fold ``hook`` over the events a metrics table implies and report what it would have done.

    Args:
        hook: any hook expression (a ``Callback`` class instance too).
        metrics: a ``metrics.csv`` path, or rows as dicts (``epoch``, ``step``, metric columns).
        step_offset: added to each row's ``step`` to get the global step (1 for Lightning's CSVLogger).
        epoch_columns: the columns logged once per epoch (default: guessed, see the module docs).
        checkpoint_dir: the directory checkpoint hooks without a ``dirpath`` write to ('' = bare names).

    Raises:
        InvalidArgument: a row that is not a mapping, or a value that is not a number.

    >>> from fhooks.hooks import early_stopping
    >>> rows = [{"epoch": e, "step": e, "val_loss": v} for e, v in enumerate([1.0, 0.5, 0.7, 0.8])]
    >>> replay(early_stopping("val_loss", patience=2), rows).stopped_epoch
    3
    """
    check_hook(hook, "replay")
    rows = read_metrics(metrics)
    head, planned, tail = _plan(rows, _step_columns(rows, epoch_columns), step_offset, checkpoint_dir)
    folder = _Folder(hook)
    folder.feed(head)
    report_rows: list[ReplayRow] = []
    for p in planned:
        events = p.events
        if folder.stop_epoch is not None:
            if p.epoch != folder.stop_epoch:
                break
            events = [e for e in events if e.kind != "train_batch_end"]  # the epoch ends after the stopping batch
        effects = folder.feed(events)
        values = frozendict((k, v) for k, v in rows[p.index].items() if k not in ("epoch", "step"))
        report_rows.append(ReplayRow(p.index, p.epoch, p.step, values, tuple(events), effects))
    closing = folder.feed(tail)
    return ReplayReport(hook, tuple(report_rows), folder.stop_epoch, tuple(folder.reasons), folder.kept(),
                        folder.state, closing, tuple(frozendict(row) for row in rows))


class _Folder:
    """Steps the hook over events and tracks stops and the files its effects write and remove."""

    def __init__(self, hook: HookLike) -> None:
        self.hook, self.state = hook, hook.init
        self.stop_epoch: int | None = None
        self.reasons: list[str] = []
        self.files: dict[str, None] = {}

    def feed(self, events: Sequence[Event]) -> tuple[Effect, ...]:
        out: list[Effect] = []
        kinds = self.hook.kinds
        for event in events:
            if kinds is not None and event.kind not in kinds:
                continue
            self.state, effects = self.hook.step(self.state, event)
            for effect in effects:
                self._track(effect, event)
            out.extend(effects)
        return tuple(out)

    def _track(self, effect: Effect, event: Event) -> None:
        if isinstance(effect, Stop):
            self.stop_epoch = event.epoch if self.stop_epoch is None else self.stop_epoch
            self.reasons.extend(effect.reasons)
        elif isinstance(effect, RemoveCheckpoint):
            self.files.pop(effect.path, None)
        elif isinstance(effect, SaveCheckpoint) or hasattr(effect, "target"):
            self.files[getattr(effect, "path")] = None

    def kept(self) -> tuple[str, ...]:
        return tuple(self.files)

