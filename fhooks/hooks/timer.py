"""``timer``: stop fitting once a training-time budget is spent (Lightning's ``Timer``).

The clock is ``event.time``, so the decision is pure and testable without sleeping:

>>> from fhooks.core import Event, fold
>>> t = timer("00:00:01:00")
>>> t
timer(datetime.timedelta(seconds=60))
>>> stream = [Event("fit_start"), Event("train_start", time=5.0)]
>>> stream += [Event("train_batch_end", step=i, time=5.0 + 25 * i) for i in (1, 2, 3)]
>>> state, effects = fold(t, stream)
>>> effects
(Stop('Time limit reached. Elapsed time is 0:01:15. Signaling Trainer to stop.'),)
>>> time_elapsed(state), time_remaining(t, state)
(75.0, -15.0)
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import attrs

from fhooks.core.effects import NO_EFFECTS, Effects, Stop
from fhooks.core.events import Event
from fhooks.core.serialize import state_class
from fhooks.errors import InvalidArgument

_WHERE = "timer"
_DURATION = re.compile(r"([0-9]+):([0-9][0-9]):([0-9][0-9]):([0-9][0-9])")
#: Lightning's running stages; only train, validate and test are ever timed.
TIMER_STAGES: tuple[str, ...] = ("train", "sanity_check", "validate", "test", "predict")


@state_class
class TimerState:
    """Start and end times per stage (``event.time`` values, None until seen).

    ``offset`` is train time spent in earlier runs (a loaded checkpoint); ``clock``
    is the time of the latest event the timer heard, its idea of "now".
    """

    offset: float = 0.0
    clock: float = 0.0
    train_start: float | None = None
    train_end: float | None = None
    validate_start: float | None = None
    validate_end: float | None = None
    test_start: float | None = None
    test_end: float | None = None


def check_stage(stage: str, where: str = _WHERE) -> str:
    """Return ``stage`` if it is one of Lightning's running stages, else raise.

    >>> check_stage("validate")
    'validate'
    """
    if stage not in TIMER_STAGES:
        raise InvalidArgument(f"{where}: stage={stage!r} must be one of {', '.join(map(repr, TIMER_STAGES))}")
    return stage


def start_time(state: TimerState, stage: str = "train") -> float | None:
    """When ``stage`` last started (an ``event.time``), or None."""
    check_stage(stage)
    return getattr(state, f"{stage}_start", None)


def end_time(state: TimerState, stage: str = "train") -> float | None:
    """When ``stage`` last ended (an ``event.time``), or None."""
    check_stage(stage)
    return getattr(state, f"{stage}_end", None)


def time_elapsed(state: TimerState, stage: str = "train", now: float | None = None) -> float:
    """Seconds spent in ``stage`` up to ``now`` (default: the latest event heard), earlier runs included for train.

    >>> time_elapsed(TimerState(offset=10.0, clock=7.0, train_start=2.0))
    15.0
    """
    start, end = start_time(state, stage), end_time(state, stage)
    offset = state.offset if stage == "train" else 0.0
    if start is None:
        return offset
    if end is None:
        return (state.clock if now is None else now) - start + offset
    return end - start + offset


def time_remaining(hook: TimerHook, state: TimerState, stage: str = "train", now: float | None = None) -> float | None:
    """``hook``'s budget minus :func:`time_elapsed`, or None when it has no duration."""
    if hook.duration is None:
        return None
    return hook.duration - time_elapsed(state, stage, now)


_RECORDS = {"train_start": 2, "train_end": 3, "validation_start": 4, "validation_end": 5, "test_start": 6,
            "test_end": 7}


@attrs.frozen(repr=False)
class TimerHook:
    """The hook :func:`timer` builds: ``duration`` in seconds (None: only timing) and the check ``interval``."""

    duration: float | None
    interval: str = "step"
    kinds: frozenset[str] = attrs.field(init=False, eq=False)
    shape_name = "timer"

    def __attrs_post_init__(self) -> None:
        check = "train_batch_end" if self.interval == "step" else "train_epoch_end"
        object.__setattr__(self, "kinds", frozenset(("fit_start", "train_epoch_end", "save_checkpoint", check,
                                                     *_RECORDS)))

    @property
    def init(self) -> TimerState:
        return TimerState()

    def step(self, state: TimerState, event: Event) -> tuple[TimerState, Effects]:
        kind, now = event.kind, event.time
        if kind == "train_batch_end":
            state = TimerState(state.offset, now, state.train_start, state.train_end, state.validate_start,
                               state.validate_end, state.test_start, state.test_end)
            return state, self._check(state)
        slot = _RECORDS.get(kind)
        if slot is not None:
            fields = list(attrs.astuple(state, recurse=False))
            fields[1], fields[slot] = now, now
            return TimerState(*fields), NO_EFFECTS
        if kind == "fit_start":
            if state.train_start is not None:  # a state from an earlier run: its train time is spent
                state = TimerState(time_elapsed(state))
            state = attrs.evolve(state, clock=now)
            return state, self._check(state)
        state = attrs.evolve(state, clock=now)
        return state, self._check(state) if kind == "train_epoch_end" and self.interval == "epoch" else NO_EFFECTS

    def _check(self, state: TimerState) -> Effects:
        if self.duration is None:
            return NO_EFFECTS
        elapsed = time_elapsed(state)
        if elapsed < self.duration:
            return NO_EFFECTS
        shown = datetime.timedelta(seconds=int(elapsed))
        return (Stop(f"Time limit reached. Elapsed time is {shown}. Signaling Trainer to stop."),)

    def __repr__(self) -> str:
        duration = None if self.duration is None else datetime.timedelta(seconds=self.duration)
        interval = "" if self.interval == "step" else f", interval={self.interval!r}"
        return f"timer({duration!r}{interval})"


_ACCEPTED = "a string 'DD:HH:MM:SS' (e.g. '00:12:00:00'), a datetime.timedelta, a dict of timedelta arguments or None"


def parse_duration(duration: Any, where: str = _WHERE) -> float | None:
    """Seconds in ``duration``: ``"DD:HH:MM:SS"`` (two digits for hours, minutes, seconds), a timedelta or a dict.

    >>> parse_duration("01:02:03:04"), parse_duration({"minutes": 2}), parse_duration(None)
    (93784.0, 120.0, None)
    >>> parse_duration("1:00")
    Traceback (most recent call last):
    ...
    fhooks.errors.InvalidArgument: timer: duration='1:00' is not a valid duration; expected a string 'DD:HH:MM:SS' ...
    """
    if duration is None:
        return None
    if isinstance(duration, str):
        match = _DURATION.fullmatch(duration.strip())
        if not match:
            raise InvalidArgument(f"{where}: duration={duration!r} is not a valid duration; expected {_ACCEPTED}")
        days, hours, minutes, seconds = map(int, match.groups())
        duration = datetime.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    elif isinstance(duration, dict):
        try:
            duration = datetime.timedelta(**duration)
        except (TypeError, ValueError, OverflowError) as error:
            raise InvalidArgument(f"{where}: duration={duration!r} is not a valid duration ({error}); "
                                  f"expected {_ACCEPTED}") from None
    if not isinstance(duration, datetime.timedelta):
        raise InvalidArgument(f"{where}: duration={duration!r} is not a valid duration; expected {_ACCEPTED}")
    if duration < datetime.timedelta(0):
        raise InvalidArgument(f"{where}: duration={duration!r} must not be negative")
    return duration.total_seconds()


def timer(duration: str | datetime.timedelta | dict[str, float] | None, *, interval: str = "step") -> TimerHook:
    """Stop at the first check where the train time reaches ``duration``.

    Checks run at ``fit_start`` (a budget spent by earlier runs stops at once) and
    after every ``train_batch_end`` (``interval="step"``) or ``train_epoch_end``
    (``"epoch"``). Train time runs from ``train_start`` to the event's ``time``, plus
    the train time of earlier runs when the state comes from a checkpoint. The state
    keeps each stage's start and end, for :func:`time_elapsed`/:func:`time_remaining`.

    Raises:
        InvalidArgument: an unparseable or negative ``duration``, or ``interval`` not ``"step"``/``"epoch"``.

    See Also:
        :func:`fhooks.hooks.early_stopping`.
    """
    seconds = parse_duration(duration)
    if interval not in ("step", "epoch"):
        raise InvalidArgument(f"{_WHERE}: interval={interval!r} must be 'step' or 'epoch'")
    return TimerHook(seconds, interval)
