"""``batch_size_finder``: find the largest batch size that fits in memory (Lightning's ``BatchSizeFinder``), as a pure search.

The hook asks for the search once, at ``fit_start``; the trainer runs each trial and
reports whether it fit; :func:`next_size` decides what to try next:

>>> search = start_search("binsearch", init_val=2, max_trials=25)
>>> while not search.done:
...     search = next_size(search, fits=search.size <= 100)
>>> [size for size, _ in search.tried], search_result(search)
([2, 4, 8, 16, 32, 64, 128, 96, 112, 104, 100, 102, 101], 100)
"""

from __future__ import annotations

from typing import Any, Callable

import attrs

from fhooks.core.effects import NO_EFFECTS, Effect, Effects
from fhooks.core.events import Event, RunInfo
from fhooks.core.serialize import state_class
from fhooks.errors import InvalidArgument
from fhooks.hooks.early_stopping import say

_WHERE = "batch_size_finder"
MODES = ("power", "binsearch")


@state_class
class BatchSizeSearch:
    """Where a search stands: the next ``size`` to try, the bounds, the counts and every trial so far.

    ``low`` is the largest size that fit (1 before any, as Lightning bisects), ``high``
    the smallest that failed (None before any); ``best`` the largest size that fit (0:
    none yet); ``limit`` the dataset length, past which the size does not grow.
    ``reason`` says why a finished search ended: ``"converged"``, ``"trials"``,
    ``"limit"``, ``"nothing fits"`` or ``"no trials"``.
    """

    mode: str
    max_trials: int
    size: int
    limit: int | None = None
    low: int = 1
    high: int | None = None
    trials: int = 0
    successes: int = 0
    best: int = 0
    done: bool = False
    reason: str = ""
    tried: tuple[tuple[int, bool], ...] = ()


def start_search(mode: str, init_val: int, max_trials: int, limit: int | None = None) -> BatchSizeSearch:
    """A search that tries ``init_val`` first (``max_trials=0`` in power mode: no trial, the answer is ``init_val``).

    >>> start_search("power", 2, 0).reason
    'no trials'
    """
    if mode == "power" and max_trials == 0:
        return BatchSizeSearch(mode, max_trials, init_val, limit, done=True, reason="no trials")
    return BatchSizeSearch(mode, max_trials, init_val, limit)


def _end(s: BatchSizeSearch, reason: str, **changes: Any) -> BatchSizeSearch:
    return attrs.evolve(s, done=True, reason=reason, **changes)


def _capped(s: BatchSizeSearch) -> bool:
    return s.limit is not None and s.size >= s.limit


def next_size(state: BatchSizeSearch, fits: bool) -> BatchSizeSearch:
    """The search after the trial at ``state.size`` fit (``fits``) or ran out of memory.

    ``power`` doubles after each fit and halves after each failure, ending at the first
    failure after a fit, when the size reaches the dataset length, or after
    ``max_trials`` trials. ``binsearch`` doubles until a failure, then bisects between
    the largest fit and the smallest failure; only fits count towards ``max_trials``
    (the search ends at the fit after the ``max_trials``-th), as in Lightning. Either
    way the answer (:func:`search_result`) is the largest size that fit.
    """
    if state.done:
        raise InvalidArgument(f"next_size: the search is over ({state.reason}); read search_result(state)")
    size = state.size
    s = attrs.evolve(state, trials=state.trials + 1, tried=(*state.tried, (size, bool(fits))))
    if fits:
        s = attrs.evolve(s, successes=s.successes + 1, best=max(s.best, size))
    if s.mode == "power":
        s = _power(s, size, fits)
        return _end(s, "trials") if not s.done and s.trials >= s.max_trials else s
    return _binsearch(s, size, fits)


def _power(s: BatchSizeSearch, size: int, fits: bool) -> BatchSizeSearch:
    if fits:
        return _end(s, "limit") if _capped(s) else attrs.evolve(s, size=size * 2)
    if s.best:
        return _end(s, "converged", size=s.best)
    half = size // 2
    return _end(s, "nothing fits") if half < 1 else attrs.evolve(s, size=half)


def _binsearch(s: BatchSizeSearch, size: int, fits: bool) -> BatchSizeSearch:
    if fits:
        if s.successes > s.max_trials:
            return _end(s, "trials")
        if s.high is not None and s.high - size <= 1:
            return _end(s, "converged", low=size)
        if _capped(s):
            return _end(s, "limit", low=size)
        return attrs.evolve(s, low=size, size=size * 2 if s.high is None else (s.high + size) // 2)
    if s.best:
        if size - s.low <= 1:
            return _end(s, "converged", high=size, size=s.best)
        return attrs.evolve(s, high=size, size=(size + s.low) // 2)
    # Nothing fit yet: bisect towards 1 as Lightning does, but try 1 itself before giving up.
    if size <= 1:
        return _end(s, "nothing fits", high=size)
    return attrs.evolve(s, high=size, size=(size + 1) // 2)


def search_result(state: BatchSizeSearch) -> int | None:
    """The answer of a finished search: the largest size that fit (``init_val`` when no trial ran), None if none fit.

    >>> s = start_search("power", 2, 3)
    >>> while not s.done:
    ...     s = next_size(s, True)
    >>> [size for size, _ in s.tried], search_result(s)
    ([2, 4, 8], 8)
    """
    if state.reason == "no trials":
        return state.size
    return state.best or None


@state_class
class BatchSizeFinderState:
    """Whether the hook already asked for its search (True in a resumed run, which reapplies the saved size)."""

    ran: bool = False


@attrs.frozen
class ScaleBatchSize(Effect):
    """Search the batch size with ``finder``'s policy, restore everything, set the found size and reload the data.

    ``resumed``: do not search; reapply the size saved in ``trainer.extra_state[key]``.
    ``report`` (set by :class:`~fhooks.callbacks.BatchSizeFinder`) receives the size.
    """

    finder: BatchSizeFinderHook
    resumed: bool = False
    key: str = "batch_size_finder"
    report: Callable[[Any], None] | None = attrs.field(default=None, eq=False, repr=False)


_DEFAULTS: dict[str, Any] = {"mode": "power", "steps_per_trial": 3, "init_val": 2, "max_trials": 25,
                             "batch_arg_name": "batch_size"}


@attrs.frozen(repr=False)
class BatchSizeFinderHook:
    """The hook :func:`batch_size_finder` builds; its fields are the validated arguments."""

    mode: str = "power"
    steps_per_trial: int = 3
    init_val: int = 2
    max_trials: int = 25
    batch_arg_name: str = "batch_size"
    kinds = frozenset({"fit_start"})
    shape_name = "batch_size_finder"

    @property
    def init(self) -> BatchSizeFinderState:
        return BatchSizeFinderState(False)

    def step(self, state: BatchSizeFinderState, event: Event) -> tuple[BatchSizeFinderState, Effects]:
        if event.kind != "fit_start":
            return state, NO_EFFECTS
        if isinstance(event.data, RunInfo) and event.data.fast_dev_run:
            return state, (say("Skipping batch size finder since fast_dev_run is enabled.", "warning"),)
        if state.ran:
            return state, (ScaleBatchSize(self, resumed=True),)
        return BatchSizeFinderState(True), (ScaleBatchSize(self),)

    def start(self, limit: int | None = None) -> BatchSizeSearch:
        """The search this finder runs, for a dataset of ``limit`` items (None: unknown)."""
        return start_search(self.mode, self.init_val, self.max_trials, limit)

    def __repr__(self) -> str:
        args = [f"{k}={getattr(self, k)!r}" for k, default in _DEFAULTS.items() if getattr(self, k) != default]
        return f"batch_size_finder({', '.join(args)})"


def _count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgument(f"{_WHERE}: {name}={value!r} must be an int >= {minimum}")
    return value


def batch_size_finder(mode: str = "power", steps_per_trial: int = 3, init_val: int = 2, max_trials: int = 25,
                      batch_arg_name: str = "batch_size") -> BatchSizeFinderHook:
    """Find the largest batch size that fits at ``fit_start``, then train with it.

    Each trial sets the module's ``batch_arg_name`` (on the module, in ``module.hparams``
    or on a datamodule), rebuilds ``module.train_dataloader()`` and runs
    ``steps_per_trial`` optimizer steps; a real out-of-memory error marks the size as too
    big, any other error propagates. :func:`next_size` picks the sizes (``mode``
    ``"power"`` or ``"binsearch"``, from ``init_val``, within ``max_trials``). Everything is
    restored afterwards; the found size stays set and the trainer reloads the data.

    >>> batch_size_finder("binsearch", max_trials=10)
    batch_size_finder(mode='binsearch', max_trials=10)

    Raises:
        InvalidArgument: a bad ``mode``, count or ``batch_arg_name``.
    """
    mode_name = mode.lower() if isinstance(mode, str) else mode
    if mode_name not in MODES:
        raise InvalidArgument(f"{_WHERE}: mode={mode!r} must be 'power' or 'binsearch'")
    if not isinstance(batch_arg_name, str) or not batch_arg_name:
        raise InvalidArgument(f"{_WHERE}: batch_arg_name={batch_arg_name!r} must be an attribute name (a non-empty string)")
    return BatchSizeFinderHook(mode_name, _count("steps_per_trial", steps_per_trial, 1), _count("init_val", init_val, 1),
                               _count("max_trials", max_trials, 0), batch_arg_name)
