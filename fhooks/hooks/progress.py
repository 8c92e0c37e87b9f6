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

from collections.abc import Mapping
from typing import Any

import attrs

from fhooks.core.effects import NO_EFFECTS, Effect, Effects
from fhooks.core.events import Event, RunInfo
from fhooks.core.frozendict import EMPTY, frozendict
from fhooks.core.serialize import state_class
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
class ProgressState:
    """What a progress hook remembers: the train and evaluation counts, the plan, the metrics to show.

    ``plan`` maps each bar to its total (None: unknown) plus ``max_epochs``/``max_steps``, and
    the current epoch's train total and description (``now``, ``text``); ``metrics`` are the
    latest epoch-level values (``callback_metrics``).
    """

    train: int = 0
    eval: int = 0
    plan: frozendict = EMPTY
    metrics: frozendict = EMPTY


def _total(value: Any) -> int | None:
    """A total from RunInfo: a positive int, else unknown (None, 0 and inf mean the length is not known)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


@attrs.frozen(repr=False)
class ProgressHook:
    """The hook :func:`progress_bar` builds."""

    refresh_rate: int = 1
    style: Any = TqdmStyle()
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
        rate = self.refresh_rate
        if kind == "train_batch_end":  # the hot path: one state, and a render every refresh_rate batches
            n = event.batch_idx + 1
            plan = state.plan
            new = ProgressState(n, state.eval, plan, state.metrics)
            if rate and (n % rate == 0 or n == plan.get("now")) and not event.rank:
                return new, (Render("train", "update", n, plan.get("now"), plan.get("text", ""), state.metrics,
                                    event.metrics, self.style, self.source),)
            return new, NO_EFFECTS
        if kind.endswith("_batch_end"):
            n = state.eval + 1
            new = ProgressState(state.train, n, state.plan, state.metrics)
            if rate and event.rank == 0:
                bar = self._eval_bar(event)
                total = state.plan.get(bar)
                if n % rate == 0 or n == total:
                    return new, (Render(bar, "update", n, total, _EVAL_TEXT[bar], state.metrics, EMPTY, self.style,
                                        self.source),)
            return new, NO_EFFECTS
        return self._boundary(state, event)

    def _boundary(self, state: ProgressState, event: Event) -> tuple[ProgressState, Effects]:
        kind = event.kind
        if kind in ("setup", "fit_start"):
            return ProgressState(state.train, state.eval, self._plan(state.plan, event), state.metrics), NO_EFFECTS
        metrics = state.metrics
        if kind in ("train_epoch_end", "validation_end") and event.stage == "fit" and event.metrics:
            metrics = frozendict({**metrics, **event.metrics})
        new = ProgressState(state.train, state.eval, state.plan, metrics)
        if kind == "train_epoch_start":
            plan = state.plan
            now = self._capped(plan, event.step) if plan.get("max_steps") else plan.get("train")
            plan = frozendict({**plan, "now": now, "text": self._epoch_text(plan, event.epoch)})
            new = ProgressState(0, state.eval, plan, metrics)
        elif kind.endswith("_start"):
            new = ProgressState(state.train, 0, state.plan, metrics)
        if not self.refresh_rate or event.rank != 0:
            return new, NO_EFFECTS
        return new, self._renders(new, event)

    def _renders(self, state: ProgressState, event: Event) -> Effects:
        kind, plan, style, source = event.kind, state.plan, self.style, self.source
        if kind in ("train_end", "exception"):
            return (Render("all", "close", style=style, source=source),)
        if kind.startswith("train_epoch"):
            action = "start" if kind == "train_epoch_start" else "close"
            return (Render("train", action, state.train, plan.get("now"), plan.get("text", ""), state.metrics,
                           EMPTY, style, source),)
        bar = self._eval_bar(event)
        action = "start" if kind.endswith("_start") else "close"
        return (Render(bar, action, state.eval, plan.get(bar), _EVAL_TEXT[bar], state.metrics, EMPTY, style, source),)

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
        return f"progress_bar({', '.join(args)})"


def progress_bar(refresh_rate: int = 1, *, style: TqdmStyle | RichStyle | None = None) -> ProgressHook:
    """Show training, validation, test and predict progress: one :class:`Render` per ``refresh_rate`` batches.

    Each bar opens with a ``start`` render at its stage's start, moves with an
    ``update`` on every ``refresh_rate``-th batch and on the last batch when the
    total is known, and ends with one ``close`` at the stage's end (the train bar
    at each ``train_epoch_end``; a ``Render("all", "close")`` at ``train_end``, or at an
    exception with a ``RichStyle``, finishes every bar). ``refresh_rate=0`` shows nothing; only global
    rank 0 renders. Totals come from ``RunInfo``; a length that is not known is None.

    Laws: per bar and epoch, updates = ``#{n <= N: n % refresh_rate == 0 or n == total}``;
    exactly one ``start`` and one ``close``; the ``close`` carries the true count ``N``.

    Raises:
        InvalidArgument: ``refresh_rate`` not an int >= 0, or an unknown ``style``.

    See Also:
        :class:`fhooks.callbacks.TQDMProgressBar`, :class:`fhooks.callbacks.RichProgressBar`.
    """
    if isinstance(refresh_rate, bool) or not isinstance(refresh_rate, int) or refresh_rate < 0:
        raise InvalidArgument(f"progress_bar: refresh_rate={refresh_rate!r} must be an int >= 0 (0 turns the bar off)")
    style = TqdmStyle() if style is None else style
    if not isinstance(style, (TqdmStyle, RichStyle)):
        raise InvalidArgument(f"progress_bar: style={style!r} must be a TqdmStyle or a RichStyle")
    return ProgressHook(refresh_rate, style)
