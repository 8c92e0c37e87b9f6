"""Loss-spike detection (Lightning's ``SpikeDetection``), as a pure hook.

Each ``train_batch_end`` loss is compared with the mean of the last ``window``
accepted losses; a spike records the batches ``[i - 1, i]``, writes them as
JSON and raises :class:`TrainingSpikeException`:

>>> from fhooks.core import Event, fold
>>> h = spike_detection(window=3)
>>> h
spike_detection(window=3)
>>> losses = [1.0, 1.0, 0.5, 4.0]
>>> state, effects = fold(h, [Event("train_batch_end", batch_idx=i, metrics={"loss": x}) for i, x in enumerate(losses)])
>>> state.bad_batches, effects
((2, 3), (WriteJson(path='skip_batches.json', data=(2, 3), in_root_dir=True), Raise(error=TrainingSpikeException(3))))
"""

from __future__ import annotations

import math
import os
import posixpath
from typing import Any

import attrs

from fhooks.core.effects import NO_EFFECTS, Effect, Effects, Raise
from fhooks.core.events import BatchData, Event
from fhooks.core.serialize import state_class
from fhooks.errors import FhooksError, InvalidArgument, MissingMetric

_WHERE = "spike_detection"
_FILE = "skip_batches.json"


class TrainingSpikeException(FhooksError, RuntimeError):
    """A loss spike ended training; ``batch_idx`` is the batch (in its epoch) where it was seen.

    >>> TrainingSpikeException(7)
    TrainingSpikeException(7)
    >>> str(TrainingSpikeException(7)), TrainingSpikeException(7).batch_idx
    ('Training spike detected in batch 7', 7)
    """

    def __init__(self, batch_idx: int) -> None:
        super().__init__(f"Training spike detected in batch {batch_idx}")
        self.batch_idx = batch_idx

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.batch_idx,))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.batch_idx!r})"


@attrs.frozen
class WriteJson(Effect):
    """Write ``data`` as JSON (indent 4) to ``path``, atomically, creating parent folders.

    A relative ``path`` is taken from the working directory, or from the
    trainer's ``default_root_dir`` when ``in_root_dir``.
    """

    path: str
    data: Any
    in_root_dir: bool = False


@state_class
class SpikeState:
    """The last accepted loss, the last ``window`` accepted losses, the bad batches.

    A NaN in ``window`` holds a slot but is left out of the mean.
    """

    last_val: float = 0.0
    window: tuple[float, ...] = ()
    bad_batches: tuple[int, ...] = ()


def running_mean(window: tuple[float, ...]) -> float:
    """Mean of the non-NaN values, NaN when there are none (as torchmetrics' ``MeanMetric`` in a ``Running`` window).

    >>> running_mean((1.0, float("nan"), 2.0)), running_mean(())
    (1.5, nan)
    """
    kept = [x for x in window if x == x]
    return sum(kept) / len(kept) if kept else math.nan


def _loss(event: Event) -> float:
    metrics = event.metrics
    if "loss" in metrics:
        return float(metrics["loss"])
    data = event.data
    outputs = data.outputs if isinstance(data, BatchData) else None
    if isinstance(outputs, dict) and "loss" in outputs:
        return float(outputs["loss"])
    have = ", ".join(sorted(metrics)) or "none"
    raise MissingMetric(
        f"{_WHERE}: metric 'loss' is not in the metrics of train_batch_end (have: {have}); "
        "training_step must return a loss"
    )


@attrs.frozen(repr=False)
class SpikeDetectionHook:
    """Lightning's spike rule on the ``loss`` of every ``train_batch_end``; see :func:`spike_detection`."""

    mode: str = "min"
    window: int = 10
    warmup: int = 1
    atol: float | None = None
    rtol: float | None = 2.0
    exclude_batches_path: str | None = None
    finite_only: bool = True
    kinds = frozenset({"train_batch_end"})
    init = SpikeState()
    shape_name = _WHERE

    @property
    def path(self) -> str:
        """Where the bad batches are written (relative to ``default_root_dir`` when none was given)."""
        path = self.exclude_batches_path
        if path is None:
            return _FILE
        return path if path.endswith(".json") else posixpath.join(path, _FILE)

    def is_spike(self, state: SpikeState, loss: float) -> bool:
        """Lightning's test, in its order: non-finite, better than the last value, then both tolerances."""
        if self.finite_only and not math.isfinite(loss):
            return True
        diff = loss - state.last_val
        if (diff <= 0.0) if self.mode == "min" else (diff >= 0.0):
            return False
        mean = running_mean(state.window)
        dev = abs(loss - mean)
        return (self.atol is None or dev >= abs(self.atol)) and (self.rtol is None or dev >= abs(self.rtol * mean))

    def step(self, state: SpikeState, event: Event) -> tuple[SpikeState, Effects]:
        loss = _loss(event)
        i = event.batch_idx
        if i >= self.warmup and self.is_spike(state, loss):
            bad = state.bad_batches + (i - 1, i)
            effects = (WriteJson(self.path, bad, self.exclude_batches_path is None), Raise(TrainingSpikeException(i)))
            return SpikeState(state.last_val, state.window, bad), effects
        if self.finite_only or math.isfinite(loss):
            window = state.window + (loss,)
            if len(window) > self.window:
                window = window[-self.window:]
            return SpikeState(loss, window, state.bad_batches), NO_EFFECTS
        return state, NO_EFFECTS

    def __repr__(self) -> str:
        args = [f"{f.name}={getattr(self, f.name)!r}" for f in attrs.fields(type(self))
                if getattr(self, f.name) != f.default]
        return f"{_WHERE}({', '.join(args)})"


def _check_int(value: Any, name: str, minimum: int, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidArgument(f"{where}: {name}={value!r} must be an int >= {minimum}")
    return value


def _check_tolerance(value: Any, name: str, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise InvalidArgument(f"{where}: {name}={value!r} must be None or a number")
    return float(value)


def spike_detection(mode: str = "min", window: int = 10, warmup: int = 1, atol: float | None = None,
                    rtol: float | None = 2.0, exclude_batches_path: str | os.PathLike[str] | None = None,
                    finite_only: bool = True) -> SpikeDetectionHook:
    """Raise :class:`TrainingSpikeException` when the training loss spikes, as Lightning's ``SpikeDetection``.

    A loss is a spike when the per-epoch ``batch_idx >= warmup`` and: it is not
    finite (with ``finite_only``), or it is worse than the last accepted loss and
    ``|loss - mean| >= |atol|`` and ``|loss - mean| >= |rtol * mean|`` (a ``None``
    tolerance always holds), ``mean`` being the mean of the last ``window``
    accepted losses. Otherwise the loss is accepted (a non-finite one only with
    ``finite_only``). On a spike the batches ``[i - 1, i]`` join the bad list,
    written to ``exclude_batches_path`` (``<default_root_dir>/skip_batches.json``
    when None; ``<dir>/skip_batches.json`` for a path not ending in ``.json``).

    >>> spike_detection(mode="max", rtol=None, atol=1.0)
    spike_detection(mode='max', atol=1.0, rtol=None)

    Raises:
        InvalidArgument: a ``mode`` other than "min"/"max", ``window < 1``, ``warmup < 0``, a non-numeric tolerance.
    """
    return build_spike_detection(mode, window, warmup, atol, rtol, exclude_batches_path, finite_only, _WHERE)


def build_spike_detection(mode: Any, window: Any, warmup: Any, atol: Any, rtol: Any, exclude_batches_path: Any,
                          finite_only: Any, where: str) -> SpikeDetectionHook:
    """:func:`spike_detection` with errors that name ``where`` (the class adapter passes its own name)."""
    if mode not in ("min", "max"):
        raise InvalidArgument(f"{where}: mode={mode!r} must be 'min' or 'max'")
    path = exclude_batches_path
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if path is not None and not isinstance(path, str):
        raise InvalidArgument(f"{where}: exclude_batches_path={exclude_batches_path!r} must be None or a str path")
    return SpikeDetectionHook(mode, _check_int(window, "window", 1, where), _check_int(warmup, "warmup", 0, where),
                              _check_tolerance(atol, "atol", where), _check_tolerance(rtol, "rtol", where),
                              path, bool(finite_only))
