"""``early_stopping``: stop fitting when a monitored metric stops improving (Lightning's ``EarlyStopping``).

>>> from fhooks.core import Event, fold
>>> es = early_stopping("val_loss", patience=2)
>>> es
early_stopping('val_loss', patience=2)
>>> stream = [Event("train_epoch_end", epoch=i, metrics={"val_loss": v}) for i, v in enumerate([3.0, 2.0, 2.5, 2.0])]
>>> state, effects = fold(es, stream)
>>> effects
(Stop('Monitored metric val_loss did not improve in the last 2 records. Best score: 2.000. Signaling Trainer to stop.'),)
>>> state.best_score, state.wait_count, state.stopped_epoch
(2.0, 2, 3)
"""

from __future__ import annotations

import difflib
import logging
import math
from typing import Any

import attrs

from fhooks.core.effects import NO_EFFECTS, Do, Effect, Effects, Stop
from fhooks.core.events import Event, RunInfo
from fhooks.core.serialize import state_class
from fhooks.errors import InvalidArgument, MissingMetric

_WHERE = "early_stopping"


@state_class
class EarlyStoppingState:
    """What an early-stopping hook remembers between checks.

    ``check_on_train_epoch_end`` is where checks run, resolved from ``RunInfo`` at
    ``fit_start`` (None before: checks then run at ``train_epoch_end``, Lightning's
    default); ``skip`` is set under ``fast_dev_run``; ``best_epoch`` is the epoch of
    the last improvement (None before the first one).
    """

    best_score: float
    wait_count: int = 0
    stopped_epoch: int = 0
    best_epoch: int | None = None
    check_on_train_epoch_end: bool | None = None
    skip: bool = False


@attrs.frozen
class SnapshotWeights(Effect):
    """Keep a CPU copy of the module's weights under ``key`` (replacing an earlier copy)."""

    key: str


@attrs.frozen
class RestoreWeights(Effect):
    """Load the weights kept under ``key`` back into the module."""

    key: str


@attrs.frozen
class LogMessage:
    """A ``Do`` function that writes ``text`` to the ``fhooks`` logger; equal when the texts are.

    >>> LogMessage("hello")
    LogMessage(text='hello', level='info')
    """

    text: str
    level: str = "info"

    def __call__(self, ctx: Any) -> None:
        getattr(logging.getLogger("fhooks"), self.level)(self.text)


def say(text: str, level: str = "info") -> Do:
    """The effect that logs ``text`` (what Lightning's ``verbose`` callbacks print).

    >>> say("Metric x improved.").label
    'Metric x improved.'
    """
    return Do(LogMessage(text, level), text)


_DEFAULTS: dict[str, Any] = {
    "min_delta": 0.0, "patience": 3, "mode": "min", "strict": True, "check_finite": True,
    "stopping_threshold": None, "divergence_threshold": None, "check_on_train_epoch_end": None,
    "verbose": False, "log_rank_zero_only": False, "restore_best_weights": False,
}


@attrs.frozen(repr=False)
class EarlyStoppingHook:
    """The hook :func:`early_stopping` builds; its fields are the validated arguments."""

    monitor: str
    min_delta: float = 0.0
    patience: int = 3
    mode: str = "min"
    strict: bool = True
    check_finite: bool = True
    stopping_threshold: float | None = None
    divergence_threshold: float | None = None
    check_on_train_epoch_end: bool | None = None
    verbose: bool = False
    log_rank_zero_only: bool = False
    restore_best_weights: bool = False
    kinds: frozenset[str] = attrs.field(init=False, eq=False)
    shape_name = "early_stopping"

    def __attrs_post_init__(self) -> None:
        where = {None: ("train_epoch_end", "validation_end"), True: ("train_epoch_end",), False: ("validation_end",)}
        kinds = {"fit_start", *where[self.check_on_train_epoch_end]}
        if self.restore_best_weights:
            kinds.add("fit_end")
        object.__setattr__(self, "kinds", frozenset(kinds))

    @property
    def init(self) -> EarlyStoppingState:
        return EarlyStoppingState(math.inf if self.mode == "min" else -math.inf, 0, 0, None,
                                  self.check_on_train_epoch_end, False)

    @property
    def weights_key(self) -> str:
        """The key of this hook's weight snapshot (Lightning's ``state_key`` of the class)."""
        return f"EarlyStopping{ {'monitor': self.monitor, 'mode': self.mode}!r}"

    def step(self, state: EarlyStoppingState, event: Event) -> tuple[EarlyStoppingState, Effects]:
        kind = event.kind
        if kind == "fit_start":
            return self._resolve(state, event.data), NO_EFFECTS
        if kind == "fit_end":
            return state, self._restore(state, event)
        if event.stage != "fit" or state.skip:
            return state, NO_EFFECTS
        at_train_epoch_end = state.check_on_train_epoch_end is not False
        if (kind == "train_epoch_end") is not at_train_epoch_end:
            return state, NO_EFFECTS
        return self.check(state, event)

    def _resolve(self, state: EarlyStoppingState, info: Any) -> EarlyStoppingState:
        if not isinstance(info, RunInfo):
            return state
        where = self.check_on_train_epoch_end
        if where is None:
            where = info.val_check_interval == 1.0 and info.check_val_every_n_epoch == 1
        return attrs.evolve(state, check_on_train_epoch_end=where, skip=bool(info.fast_dev_run))

    def _restore(self, state: EarlyStoppingState, event: Event) -> Effects:
        if state.best_epoch is None:
            return NO_EFFECTS
        note = f"Restoring model weights from the end of the best epoch: {state.best_epoch}."
        return (RestoreWeights(self.weights_key), *self._said(note, event))

    def _said(self, text: str, event: Event, level: str = "info") -> Effects:
        if not self.verbose or (self.log_rank_zero_only and event.rank != 0):
            return NO_EFFECTS
        return (say(text, level),)

    def check(self, state: EarlyStoppingState, event: Event) -> tuple[EarlyStoppingState, Effects]:
        """Run one early-stopping check on ``event``'s metrics, wherever it was heard."""
        metrics = event.metrics
        if self.monitor not in metrics:
            if self.strict:
                raise MissingMetric(missing_message(self.monitor, metrics))
            return state, self._said(missing_message(self.monitor, metrics), event, "warning")
        current = float(metrics[self.monitor])
        best, wait, stop, reason = self.decide(state.best_score, state.wait_count, current)
        improved = not stop and wait == 0
        new = EarlyStoppingState(best, wait, event.epoch if stop else state.stopped_epoch,
                                 event.epoch if improved else state.best_epoch,
                                 state.check_on_train_epoch_end, state.skip)
        effects: tuple[Effect, ...] = NO_EFFECTS
        if improved and self.restore_best_weights:
            effects = (SnapshotWeights(self.weights_key),)
        if reason:
            effects += self._said(reason, event)
        if stop:
            effects += (Stop(reason),)
        return new, effects

    def decide(self, best: float, wait: int, current: float) -> tuple[float, int, bool, str]:
        """One check, in Lightning's order: ``(best, wait, stop, reason)`` after seeing ``current``.

        Non-finite -> stopping threshold -> divergence threshold -> improvement -> patience.
        """
        low = self.mode == "min"
        sign = "<" if low else ">"
        name = self.monitor
        if self.check_finite and not math.isfinite(current):
            return best, wait, True, (f"Monitored metric {name} = {current} is not finite. Previous best value was "
                                      f"{best:.3f}. Signaling Trainer to stop.")
        stop_at = self.stopping_threshold
        if stop_at is not None and (current < stop_at if low else current > stop_at):
            return best, wait, True, (f"Stopping threshold reached: {name} = {current} {sign} {stop_at}. "
                                      "Signaling Trainer to stop.")
        diverge_at = self.divergence_threshold
        if diverge_at is not None and (current > diverge_at if low else current < diverge_at):
            return best, wait, True, (f"Divergence threshold reached: {name} = {current} {sign} {diverge_at}. "
                                      "Signaling Trainer to stop.")
        if current + self.min_delta < best if low else current - self.min_delta > best:
            if math.isfinite(best):
                note = (f"Metric {name} improved by {abs(best - current):.3f} >= min_delta = {self.min_delta}. "
                        f"New best score: {current:.3f}")
            else:
                note = f"Metric {name} improved. New best score: {current:.3f}"
            return current, 0, False, note
        wait += 1
        if wait >= self.patience:
            return best, wait, True, (f"Monitored metric {name} did not improve in the last {wait} records. "
                                      f"Best score: {best:.3f}. Signaling Trainer to stop.")
        return best, wait, False, ""

    def __repr__(self) -> str:
        args = [repr(self.monitor)]
        args += [f"{k}={getattr(self, k)!r}" for k, default in _DEFAULTS.items() if getattr(self, k) != default]
        return f"early_stopping({', '.join(args)})"


def missing_message(monitor: str, metrics: Any) -> str:
    """The error text for a monitored metric that is absent, listing what is there.

    >>> missing_message("val_los", {"loss": 1.0, "val_loss": 2.0})
    "early_stopping: metric 'val_los' is not in the metrics (have: loss, val_loss); did you mean 'val_loss'?"
    """
    names = sorted(map(str, metrics))
    close = difflib.get_close_matches(monitor, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{_WHERE}: metric {monitor!r} is not in the metrics (have: {', '.join(names) or 'none'}){hint}"


def _number(name: str, value: Any, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        accepted = "None or a number" if optional else "a number"
        raise InvalidArgument(f"{_WHERE}: {name}={value!r} must be {accepted}")
    return float(value)


def _flag(name: str, value: Any, *, optional: bool = False) -> bool | None:
    if (value is None and optional) or isinstance(value, bool):
        return value
    raise InvalidArgument(f"{_WHERE}: {name}={value!r} must be {'None, ' if optional else ''}True or False")


def early_stopping(monitor: str = "val_loss", *, min_delta: float = 0.0, patience: int = 3, mode: str = "min",
                   strict: bool = True, check_finite: bool = True, stopping_threshold: float | None = None,
                   divergence_threshold: float | None = None, check_on_train_epoch_end: bool | None = None,
                   verbose: bool = False, log_rank_zero_only: bool = False,
                   restore_best_weights: bool = False) -> EarlyStoppingHook:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` checks.

    Each check runs, in Lightning's order: a non-finite value stops (``check_finite``);
    passing ``stopping_threshold`` stops; passing ``divergence_threshold`` stops; an
    improvement (``min``: ``value + min_delta < best``, strict) resets the wait;
    otherwise the wait grows and reaching ``patience`` stops. Checks run at
    ``train_epoch_end``, or at ``validation_end`` when validation is not once per epoch
    (``check_on_train_epoch_end`` overrides); never in sanity checks, other stages or
    ``fast_dev_run``. A missing ``monitor`` raises with ``strict``, else the check is
    skipped (no effect, state unchanged). ``restore_best_weights`` (as Keras) snapshots
    the weights at each improvement and restores them at ``fit_end``.

    Law: ``mode="max"`` on ``x`` decides as ``mode="min"`` on ``-x``.

    Raises:
        InvalidArgument: a bad ``monitor``, ``mode``, ``patience``, ``min_delta``, threshold or flag.
        MissingMetric: (at a check) ``monitor`` is absent and ``strict`` is True.

    See Also:
        :func:`fhooks.hooks.timer`, :func:`fhooks.core.any_of`, :func:`fhooks.core.all_of`.
    """
    if not isinstance(monitor, str) or not monitor:
        raise InvalidArgument(f"{_WHERE}: monitor={monitor!r} must be a metric name (a non-empty string)")
    if mode not in ("min", "max"):
        close = difflib.get_close_matches(str(mode), ("min", "max"), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InvalidArgument(f"{_WHERE}: mode={mode!r} must be 'min' or 'max'{hint}")
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
        raise InvalidArgument(f"{_WHERE}: patience={patience!r} must be an int >= 0")
    delta = _number("min_delta", min_delta)
    if math.isinf(delta):
        raise InvalidArgument(f"{_WHERE}: min_delta={min_delta!r} must be a finite number "
                              "(the direction comes from mode; below 0 it tolerates a worse value, as Lightning)")
    return EarlyStoppingHook(
        monitor, delta, patience, mode, _flag("strict", strict), _flag("check_finite", check_finite),
        _number("stopping_threshold", stopping_threshold, optional=True),
        _number("divergence_threshold", divergence_threshold, optional=True),
        _flag("check_on_train_epoch_end", check_on_train_epoch_end, optional=True),
        _flag("verbose", verbose), _flag("log_rank_zero_only", log_rank_zero_only),
        _flag("restore_best_weights", restore_best_weights),
    )
