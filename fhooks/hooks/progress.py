"""``progress_bar``: what a progress display shows, as ``Render`` effects (Lightning's ``ProgressBar`` logic).

The hook counts batches and knows the totals; a renderer (tqdm, rich or plain
lines, in :mod:`fhooks.display`) draws what each :class:`Render` says.

>>> from fhooks.core import Event, fold
>>> from fhooks.core.events import RunInfo
>>> bar = progress_bar(refresh_rate=2)
>>> bar
progress_bar(refresh_rate=2)
>>> info = RunInfo(max_epochs=1, num_training_batches=3)
>>> stream = [Event("fit_start", data=info), Event("train_epoch_start")]
>>> stream += [Event("train_batch_end", batch_idx=i, metrics={"loss": 1.0}) for i in range(3)]
>>> [(r.action, r.count, r.total) for r in fold(bar, stream + [Event("train_epoch_end")])[1]]
[('start', 0, 3), ('update', 2, 3), ('update', 3, 3), ('close', 3, 3)]
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import attrs

from fhooks.core.effects import NO_EFFECTS, Effect, Effects
from fhooks.core.events import Event, RunInfo
from fhooks.core.frozendict import EMPTY, frozendict
from fhooks.core.serialize import state_class, transient
from fhooks.errors import InvalidArgument

#: The bars a progress hook draws, in the order a fit opens them.
BARS: tuple[str, ...] = ("sanity", "train", "validation", "test", "predict")
#: What a :class:`Render` asks: open (or reset) a bar, move it, or finish it.
ACTIONS: tuple[str, ...] = ("start", "update", "close")
_EVAL_BAR = {"validation": "validation", "test": "test", "predict": "predict"}
_EVAL_TEXT = {"sanity": "Sanity Checking", "validation": "Validation", "test": "Testing", "predict": "Predicting"}
_KINDS = frozenset({
    "setup", "fit_start", "train_epoch_start", "train_batch_end", "train_epoch_end", "train_end",
    *(f"{loop}_{part}" for loop in ("validation", "test", "predict") for part in ("start", "batch_end", "end")),
})
_STAGE_BAR = {"validate": "validation", "test": "test", "predict": "predict"}
_STAGE_TOTAL = {"validate": "num_val_batches", "test": "num_test_batches", "predict": "num_predict_batches"}
#: Seconds between two drawn updates of a bar when neither ``min_interval`` nor the environment says (tqdm's own).
DEFAULT_MIN_INTERVAL = 0.1
MIN_INTERVAL_ENV = "FHOOKS_PROGRESS_MININTERVAL"


@attrs.frozen(cache_hash=True)
class TqdmStyle:
    """How the tqdm renderer draws: bars ``2 * process_position`` lines down; ``leave`` keeps each epoch's bar."""

    process_position: int = 0
    leave: bool = False


@attrs.frozen(cache_hash=True)
class RichStyle:
    """How the rich renderer draws: ``leave`` keeps each epoch's bar; ``theme`` styles; ``Console(**console_kwargs)``."""

    leave: bool = False
    theme: Any = None
    console_kwargs: Mapping[str, Any] = attrs.field(default=EMPTY, converter=frozendict)


@attrs.frozen
class Render(Effect):
    """Draw one bar: ``action`` it at ``count`` of ``total`` (None: unknown), with a description and metrics.

    ``metrics`` are the run-level values to show (the latest epoch and validation
    metrics); ``step_metrics`` the training step's own values, read only if drawn.
    ``source`` is the :class:`~fhooks.callbacks.ProgressBar` that asked, if any, whose
    ``get_metrics`` then supplies the postfix; it takes no part in equality.

    >>> Render("train", "update", 4, 10, "Epoch 0")
    Render(bar='train', action='update', count=4, total=10, description='Epoch 0', metrics=frozendict({}), \
step_metrics=frozendict({}), style=TqdmStyle(process_position=0, leave=False))
    """

    bar: str
    action: str
    count: int = 0
    total: int | None = None
    description: str = ""
    metrics: Mapping[str, float] = EMPTY
    step_metrics: Mapping[str, float] = EMPTY
    style: Any = TqdmStyle()
    source: Any = attrs.field(default=None, eq=False, repr=False)
    recorded = False  # one per batch: the decision log leaves renders out


@state_class
@attrs.frozen(slots=False)  # built once a batch: filling its __dict__ costs less than setting slots
class ProgressState:
    """What a progress hook remembers: the train and evaluation counts, the plan, the metrics to show.

    ``plan`` maps each bar to its total (None: unknown) plus ``max_epochs``/``max_steps``, and
    the current epoch's train total and description (``now``, ``text``); ``metrics`` are the
    latest epoch-level values (``callback_metrics``).

    Two fields belong to the display of this process only (:func:`~fhooks.core.serialize.transient`:
    not in checkpoints, not in equality): ``held``, the updates not drawn yet as ``(bar, count,
    step_metrics)`` in the order they were first held, and ``drawn_at``, the ``event.time`` of the
    last drawn update (-inf: none yet).
    """

    train: int = 0
    eval: int = 0
    plan: frozendict = EMPTY
    metrics: frozendict = EMPTY
    held: tuple[tuple[str, int, Mapping[str, float]], ...] = transient(())
    drawn_at: float = transient(-math.inf)


def _hold(held: tuple, update: tuple[str, int, Mapping[str, float]]) -> tuple:
    """``held`` with ``update`` in place of its bar's held update, or last when its bar held none.

    >>> _hold((("train", 2, {}), ("test", 1, {})), ("train", 3, {}))
    (('train', 3, {}), ('test', 1, {}))
    """
    bar = update[0]
    for i, (name, _, _) in enumerate(held):
        if name == bar:
            return (*held[:i], update, *held[i + 1:])
    return (*held, update)


def _release(held: tuple, bar: str) -> tuple:
    """``held`` without ``bar``'s update (just drawn, or closed with its true count)."""
    return tuple(update for update in held if update[0] != bar)


def _total(value: Any) -> int | None:
    """A total from RunInfo: a positive int, else unknown (None, 0 and inf mean the length is not known)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


@attrs.frozen(repr=False)
class ProgressHook:
    """The hook :func:`progress_bar` builds."""

    refresh_rate: int = 1
    style: Any = TqdmStyle()
    min_interval: float = DEFAULT_MIN_INTERVAL
    source: Any = attrs.field(default=None, eq=False)
    kinds: frozenset[str] = attrs.field(init=False, eq=False)
    shape_name = "progress_bar"

    def __attrs_post_init__(self) -> None:
        # "exception" only for rich (its live display must stop): a hook that hears it makes the trainer
        # keep each batch's RNG state, which costs more than the whole tqdm bar
        extra = {"exception"} if isinstance(self.style, RichStyle) else set()
        object.__setattr__(self, "kinds", _KINDS | extra)

    @property
    def init(self) -> ProgressState:
        return ProgressState()

    def step(self, state: ProgressState, event: Event) -> tuple[ProgressState, Effects]:
        kind = event.kind
        if kind == "train_batch_end":
            return self._train_batch_end(state, event)
        if kind.endswith("_batch_end"):
            return self._eval_batch_end(state, event)
        return self._boundary(state, event)

    def step_for(self, kind: str) -> Any:
        """The step for events of ``kind`` (None: not heard); ``train_batch_end`` goes straight to its own."""
        if kind not in self.kinds:
            return None
        return self._train_batch_end if kind == "train_batch_end" else self.step

    def _train_batch_end(self, state: ProgressState, event: Event) -> tuple[ProgressState, Effects]:
        """The hot path: one state a batch, and a render only when the update is drawn."""
        n = event.batch_idx + 1
        plan = state.plan
        total = plan.get("now")
        rate = self.refresh_rate
        if rate and (n % rate == 0 or n == total) and not event.rank:
            if event.time - state.drawn_at < self.min_interval and n != total:
                held = state.held
                if not held or len(held) == 1 and held[0][0] == "train":  # _hold, inlined for the usual case
                    held = (("train", n, event.metrics),)
                else:
                    held = _hold(held, ("train", n, event.metrics))
                return ProgressState(n, state.eval, plan, state.metrics, held, state.drawn_at), NO_EFFECTS
            new = ProgressState(n, state.eval, plan, state.metrics, _release(state.held, "train"), event.time)
            return new, (self._update(new, "train", n, event.metrics),)
        return ProgressState(n, state.eval, plan, state.metrics, state.held, state.drawn_at), NO_EFFECTS

    def _eval_batch_end(self, state: ProgressState, event: Event) -> tuple[ProgressState, Effects]:
        n = state.eval + 1
        plan, rate = state.plan, self.refresh_rate
        if rate and event.rank == 0:
            bar = self._eval_bar(event)
            total = plan.get(bar)
            if n % rate == 0 or n == total:
                if event.time - state.drawn_at >= self.min_interval or n == total:
                    new = ProgressState(state.train, n, plan, state.metrics, _release(state.held, bar), event.time)
                    return new, (self._update(new, bar, n, EMPTY),)
                held = _hold(state.held, (bar, n, EMPTY))
                return ProgressState(state.train, n, plan, state.metrics, held, state.drawn_at), NO_EFFECTS
        return ProgressState(state.train, n, plan, state.metrics, state.held, state.drawn_at), NO_EFFECTS

    def _update(self, state: ProgressState, bar: str, count: int, step_metrics: Mapping[str, float]) -> Render:
        """The ``update`` render of ``bar`` at ``count``, with ``state``'s totals, description and metrics."""
        plan = state.plan
        if bar == "train":
            return Render(bar, "update", count, plan.get("now"), plan.get("text", ""), state.metrics, step_metrics,
                          self.style, self.source)
        return Render(bar, "update", count, plan.get(bar), _EVAL_TEXT[bar], state.metrics, step_metrics, self.style,
                      self.source)

    def _boundary(self, state: ProgressState, event: Event) -> tuple[ProgressState, Effects]:
        kind = event.kind
        drawn_at = state.drawn_at if event.time >= state.drawn_at else -math.inf  # a new run's clock starts at 0
        if kind in ("setup", "fit_start"):
            plan = self._plan(state.plan, event)
            return ProgressState(state.train, state.eval, plan, state.metrics, state.held, drawn_at), NO_EFFECTS
        metrics = state.metrics
        if kind in ("train_epoch_end", "validation_end") and event.stage == "fit" and event.metrics:
            metrics = frozendict({**metrics, **event.metrics})
        train, count, plan = state.train, state.eval, state.plan
        if kind == "train_epoch_start":
            now = self._capped(plan, event.step) if plan.get("max_steps") else plan.get("train")
            train, plan = 0, frozendict({**plan, "now": now, "text": self._epoch_text(plan, event.epoch)})
        elif kind.endswith("_start"):
            count = 0
        if not self.refresh_rate or event.rank != 0:
            return ProgressState(train, count, plan, metrics, state.held, drawn_at), NO_EFFECTS
        new = ProgressState(train, count, plan, metrics, (), drawn_at)
        render = self._render(new, event)
        return new, (*self._flush(state, render.bar), render)

    def _flush(self, state: ProgressState, bar: str) -> tuple[Render, ...]:
        """The held updates to draw before a ``start`` or ``close`` of ``bar``: those of the other bars.

        ``bar``'s own is left out (its ``start`` resets it, its ``close`` carries the true count).
        """
        return tuple(self._update(state, name, count, step_metrics)
                     for name, count, step_metrics in state.held if name != bar)

    def _render(self, state: ProgressState, event: Event) -> Render:
        kind, plan, style, source = event.kind, state.plan, self.style, self.source
        if kind in ("train_end", "exception"):
            return Render("all", "close", style=style, source=source)
        if kind.startswith("train_epoch"):
            action = "start" if kind == "train_epoch_start" else "close"
            return Render("train", action, state.train, plan.get("now"), plan.get("text", ""), state.metrics,
                          EMPTY, style, source)
        bar = self._eval_bar(event)
        action = "start" if kind.endswith("_start") else "close"
        return Render(bar, action, state.eval, plan.get(bar), _EVAL_TEXT[bar], state.metrics, EMPTY, style, source)

    @staticmethod
    def _eval_bar(event: Event) -> str:
        return "sanity" if event.stage == "sanity_check" else _EVAL_BAR[event.kind.split("_", 1)[0]]

    @staticmethod
    def _plan(plan: frozendict, event: Event) -> frozendict:
        info = event.data
        if not isinstance(info, RunInfo):
            return plan
        if event.stage == "fit":
            max_epochs = info.max_epochs
            return frozendict({
                "train": _total(info.num_training_batches), "validation": _total(info.num_val_batches),
                "sanity": _total(getattr(info, "num_sanity_val_batches", None)),
                "max_epochs": max_epochs if isinstance(max_epochs, int) and max_epochs > 0 else None,
                "max_steps": info.max_steps if max_epochs == -1 else None,
            })
        bar = _STAGE_BAR.get(event.stage)
        if bar is None:
            return plan
        return frozendict({**plan, bar: _total(getattr(info, _STAGE_TOTAL[event.stage], None))})

    @staticmethod
    def _capped(plan: frozendict, step: int) -> int | None:
        """Lightning's train total when ``max_epochs=-1``: no more batches than steps left."""
        total = plan.get("train")
        return None if total is None else min(total, max(plan["max_steps"] - step, 0))

    def _epoch_text(self, plan: frozendict, epoch: int) -> str:
        if isinstance(self.style, RichStyle):
            last = plan.get("max_epochs")
            text = f"Epoch {epoch}/{last - 1}" if last else f"Epoch {epoch}"
            return text.ljust(len("Validation"))
        return f"Epoch {epoch}"

    def __repr__(self) -> str:
        args = [f"refresh_rate={self.refresh_rate}"] if self.refresh_rate != 1 else []
        if self.style != TqdmStyle():
            args.append(f"style={self.style!r}")
        if self.min_interval != DEFAULT_MIN_INTERVAL:
            args.append(f"min_interval={self.min_interval!r}")
        return f"progress_bar({', '.join(args)})"


def _min_interval_from_env() -> float:
    """Seconds between two drawn updates of a bar: ``FHOOKS_PROGRESS_MININTERVAL``, else 0.1 (tqdm's own)."""
    text = os.environ.get(MIN_INTERVAL_ENV)
    if text is None:
        return DEFAULT_MIN_INTERVAL
    try:
        seconds = float(text)
    except ValueError:
        raise InvalidArgument(f"progress_bar: {MIN_INTERVAL_ENV}={text!r} must be a number of seconds >= 0") from None
    return _checked_interval(seconds, f"{MIN_INTERVAL_ENV}={text!r}")


def _checked_interval(value: Any, given: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise InvalidArgument(f"progress_bar: {given} must be a number of seconds >= 0 (0 draws every update)")
    return float(value)


def progress_bar(refresh_rate: int = 1, *, style: TqdmStyle | RichStyle | None = None,
                 min_interval: float | None = None) -> ProgressHook:
    """Show training, validation, test and predict progress: an ``update`` every ``refresh_rate`` batches,
    drawn at most once per ``min_interval`` seconds.

    Each bar opens with a ``start`` render at its stage's start, moves with an
    ``update`` on every ``refresh_rate``-th batch and on the last batch when the
    total is known, and ends with one ``close`` at the stage's end (the train bar
    at each ``train_epoch_end``; a ``Render("all", "close")`` at ``train_end``, or at an
    exception with a ``RichStyle``, finishes every bar). ``refresh_rate=0`` shows nothing; only global
    rank 0 renders. Totals come from ``RunInfo``; a length that is not known is None.

    The throttle reads ``event.time``: an update less than ``min_interval`` seconds after the last
    drawn update (of any bar) is *held*, not emitted, unless it is the last batch of a known
    total. A bar's ``start`` or ``close`` first emits the held updates of the other bars (a
    ``close`` carries its own bar's true count), so no bar shows an older count or older
    metrics than the stage it is in. ``min_interval=None`` reads ``FHOOKS_PROGRESS_MININTERVAL``
    now, else 0.1 s (tqdm's ``mininterval``); ``0`` emits every update.

    Laws, per bar and stage, with ``min_interval=0``: updates = ``#{n <= N: n % refresh_rate == 0 or
    n == total}``; exactly one ``start`` and one ``close``; the ``close`` carries the true count ``N``.
    With ``min_interval > 0``: each emitted update comes at least ``min_interval`` after the update
    emitted before it, or is the last batch; no update comes before its stage's ``start``; a held
    update is emitted before the next ``start`` or ``close`` of another bar; the count drawn last
    before a ``close`` is the ``close``'s.

    >>> from fhooks.core import Event, fold
    >>> stream = [Event("train_epoch_start")]
    >>> stream += [Event("train_batch_end", batch_idx=i, time=i / 10) for i in range(6)] + [Event("train_end")]
    >>> [(r.bar, r.action, r.count) for r in fold(progress_bar(min_interval=0.25), stream)[1]]
    [('train', 'start', 0), ('train', 'update', 1), ('train', 'update', 4), ('train', 'update', 6), ('all', 'close', 0)]

    Raises:
        InvalidArgument: ``refresh_rate`` not an int >= 0, ``min_interval`` (or the environment variable)
            not a number >= 0, or an unknown ``style``.

    See Also:
        :class:`fhooks.callbacks.TQDMProgressBar`, :class:`fhooks.callbacks.RichProgressBar`.
    """
    if isinstance(refresh_rate, bool) or not isinstance(refresh_rate, int) or refresh_rate < 0:
        raise InvalidArgument(f"progress_bar: refresh_rate={refresh_rate!r} must be an int >= 0 (0 turns the bar off)")
    style = TqdmStyle() if style is None else style
    if not isinstance(style, (TqdmStyle, RichStyle)):
        raise InvalidArgument(f"progress_bar: style={style!r} must be a TqdmStyle or a RichStyle")
    interval = _min_interval_from_env() if min_interval is None else _checked_interval(
        min_interval, f"min_interval={min_interval!r}")
    return ProgressHook(refresh_rate, style, interval)
