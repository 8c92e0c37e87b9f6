"""``Timer``: Lightning's class, over the pure :func:`~fhooks.hooks.timer` hook.

>>> from fhooks.core import Event, fold
>>> t = Timer("00:00:00:10", interval="epoch")
>>> t
Timer(datetime.timedelta(seconds=10), interval='epoch')
>>> _, effects = fold(t, [Event("fit_start"), Event("train_start", time=1.0), Event("train_epoch_end", time=12.0)])
>>> t.time_elapsed(), t.time_remaining(), t.start_time("train")
(11.0, -1.0, 1.0)
>>> effects[0].reason
'Time limit reached. Elapsed time is 0:00:11. Signaling Trainer to stop.'
"""

from __future__ import annotations

import datetime
from typing import Any

from fhooks.callbacks.base import HookCallback
from fhooks.core.serialize import from_data, to_data
from fhooks.hooks.timer import TIMER_STAGES, TimerHook, TimerState, end_time, parse_duration, start_time, time_elapsed
from fhooks.hooks.timer import time_remaining
from fhooks.errors import InvalidArgument


class Timer(HookCallback):
    """Stop training once ``duration`` of train time is spent; report time per stage.

    Times are ``event.time`` values (seconds since the run began); "now" is the
    time of the latest event the timer heard.

    Raises:
        InvalidArgument: an unparseable or negative ``duration``, or ``interval`` not ``"step"``/``"epoch"``.
    """

    hook: TimerHook

    def __init__(self, duration: str | datetime.timedelta | dict[str, float] | None = None,
                 interval: str = "step", verbose: bool = True) -> None:
        seconds = parse_duration(duration, "Timer")
        if interval not in ("step", "epoch"):
            raise InvalidArgument(f"Timer: interval={interval!r} must be 'step' or 'epoch'")
        self.verbose = verbose
        self._wrap(TimerHook(seconds, interval))

    @property
    def duration(self) -> float | None:
        """The budget in seconds, or None."""
        return self.hook.duration

    @property
    def interval(self) -> str:
        """``"step"`` or ``"epoch"``: when the budget is checked."""
        return self.hook.interval

    def start_time(self, stage: str = "train") -> float | None:
        """When ``stage`` last started, or None."""
        return start_time(self.state, stage)

    def end_time(self, stage: str = "train") -> float | None:
        """When ``stage`` last ended, or None."""
        return end_time(self.state, stage)

    def time_elapsed(self, stage: str = "train") -> float:
        """Seconds spent in ``stage`` (train: earlier runs included)."""
        return time_elapsed(self.state, stage)

    def time_remaining(self, stage: str = "train") -> float | None:
        """``duration`` minus :meth:`time_elapsed`, or None without a duration."""
        return time_remaining(self.hook, self.state, stage)

    def state_dict(self) -> dict[str, Any]:
        """The state as plain data, with Lightning's ``time_elapsed`` per stage beside it."""
        return {"state": to_data(self.state), "time_elapsed": {s: self.time_elapsed(s) for s in TIMER_STAGES}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`, or from Lightning's (only the train time carries over)."""
        if "state" in state_dict:
            state = from_data(state_dict["state"])
        else:
            state = TimerState(offset=float(state_dict.get("time_elapsed", {}).get("train", 0.0)))
        if not isinstance(state, TimerState):
            raise InvalidArgument(f"Timer.load_state_dict: expected a TimerState, got {state!r}")
        self._state = self._loaded = state

    def __repr__(self) -> str:
        return "Timer" + repr(self.hook)[len("timer"):]
