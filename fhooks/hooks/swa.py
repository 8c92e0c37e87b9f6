"""``stochastic_weight_averaging``: average the weights of the last epochs (Lightning's ``StochasticWeightAveraging``).

From ``swa_start`` on, each ``train_epoch_start`` folds the current weights into a
running average and sets the lrs on SWALR's annealing path; when the last epoch has
run the averaged weights replace the model's and BatchNorm statistics are recomputed:

>>> from fhooks.core import Event, fold
>>> from fhooks.core.events import RunInfo
>>> h = stochastic_weight_averaging(0.01, swa_epoch_start=2, annealing_epochs=1)
>>> h
stochastic_weight_averaging(0.01, swa_epoch_start=2, annealing_epochs=1)
>>> events = [Event("fit_start", data=RunInfo(max_epochs=3))] + [Event("train_epoch_start", epoch=e) for e in range(3)]
>>> state, effects = fold(h, events + [Event("train_end", epoch=3)])
>>> state.swa_start, state.n_averaged
(1, 2)
>>> [type(e).__name__ for e in effects]
['SuspendSchedulers', 'AnnealLearningRates', 'UpdateAverage', 'SuspendSchedulers', 'AnnealLearningRates', 'UpdateAverage', 'SwapAveraged', 'UpdateBatchNorm']
>>> [e.alpha for e in effects if hasattr(e, "alpha")]
[0.0, 1.0]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

from fhooks.core.effects import NO_EFFECTS, Effects, Raise
from fhooks.core.events import Event, RunInfo
from fhooks.core.serialize import state_class
from fhooks.errors import InvalidArgument, MisconfigurationError
from fhooks.hooks.model_effects import AnnealLearningRates, SuspendSchedulers, SwapAveraged, UpdateAverage, UpdateBatchNorm

_WHERE = "stochastic_weight_averaging"
STRATEGIES = ("cos", "linear")


def anneal_alpha(k: int, annealing_epochs: int, strategy: str = "cos") -> float:
    """How far the lr has moved to ``swa_lr`` in the ``k``-th SWA epoch (0-based), as torch's ``SWALR``.

    ``t = clamp(k / max(1, annealing_epochs), 0, 1)`` (``k`` at least 1 when
    ``annealing_epochs == 0``); ``cos``: ``(1 - cos(pi t)) / 2``; ``linear``: ``t``.

    >>> anneal_alpha(0, 2), anneal_alpha(1, 2, 'linear'), anneal_alpha(2, 2), anneal_alpha(0, 0)
    (0.0, 0.5, 1.0, 1.0)
    """
    step = max(1, k) if annealing_epochs == 0 else k
    t = max(0.0, min(1.0, step / max(1, annealing_epochs)))
    return (1 - math.cos(math.pi * t)) / 2 if strategy == "cos" else t


def swa_lr(start_lr: float, swa_lr: float, alpha: float) -> float:
    """The lr at annealing progress ``alpha``: ``swa_lr * alpha + start_lr * (1 - alpha)``.

    >>> swa_lr(0.05, 0.01, 0.5)
    0.030000000000000002
    """
    return swa_lr * alpha + start_lr * (1 - alpha)


@state_class
class SwaState:
    """``swa_start``/``swa_end``: the first and last averaged epochs (0-based; None before ``fit_start``);
    ``n_averaged``: snapshots in the average; ``latest_update_epoch``: the epoch of the last one (-1: none)."""

    swa_start: int | None = None
    swa_end: int | None = None
    n_averaged: int = 0
    latest_update_epoch: int = -1


@attrs.frozen(repr=False)
class SwaHook:
    """The hook :func:`stochastic_weight_averaging` builds."""

    swa_lrs: float | tuple[float, ...]
    swa_epoch_start: int | float = 0.8
    annealing_epochs: int = 10
    annealing_strategy: str = "cos"
    avg_fn: Callable[..., Any] | None = None
    device: str | None = "cpu"
    kinds: frozenset[str] = frozenset({"fit_start", "train_epoch_start", "train_end"})
    init: SwaState = SwaState()
    shape_name = _WHERE

    def step(self, state: SwaState, event: Event) -> tuple[SwaState, Effects]:
        kind = event.kind
        if kind == "fit_start":
            return self._resolve(state, event.data)
        start, end = state.swa_start, state.swa_end
        if start is None or end is None or event.stage != "fit":
            return state, NO_EFFECTS
        if kind == "train_end":
            if state.n_averaged and event.epoch - 1 == end:
                return state, (SwapAveraged(), UpdateBatchNorm())
            return state, NO_EFFECTS
        epoch = event.epoch
        if not start <= epoch <= end:
            return state, NO_EFFECTS
        alpha = anneal_alpha(epoch - start, self.annealing_epochs, self.annealing_strategy)
        effects: Effects = (SuspendSchedulers(), AnnealLearningRates(self._lrs(state), alpha))
        if epoch > state.latest_update_epoch:
            effects += (UpdateAverage(self.avg_fn, self.device, state.n_averaged),)
            state = SwaState(start, end, state.n_averaged + 1, epoch)
        return state, effects

    def _lrs(self, state: SwaState) -> tuple[float, ...]:
        return self.swa_lrs if isinstance(self.swa_lrs, tuple) else (self.swa_lrs,)

    def _resolve(self, state: SwaState, info: Any) -> tuple[SwaState, Effects]:
        if not isinstance(info, RunInfo):
            return state, NO_EFFECTS
        max_epochs = info.max_epochs
        if max_epochs is None or max_epochs < 1:
            return state, (Raise(MisconfigurationError(
                f"{_WHERE}: needs a finite max_epochs to place the averaged epochs, got max_epochs={max_epochs}")),)
        first = int(max_epochs * self.swa_epoch_start) if isinstance(self.swa_epoch_start, float) else self.swa_epoch_start
        start, end = max(first - 1, 0), max_epochs - 1
        if start > end:
            return state, (Raise(MisconfigurationError(
                f"{_WHERE}: swa_epoch_start={self.swa_epoch_start!r} is past the last epoch (max_epochs={max_epochs}); "
                f"use an int in [1, {max_epochs}] or a float in [0, 1]")),)
        groups = len(info.optimizers[0].param_groups) if info.optimizers else None
        if isinstance(self.swa_lrs, tuple) and groups is not None and len(self.swa_lrs) != groups:
            return state, (Raise(MisconfigurationError(
                f"{_WHERE}: swa_lrs has {len(self.swa_lrs)} values for {groups} param groups; "
                "give one per group or a single float")),)
        return SwaState(start, end, state.n_averaged, state.latest_update_epoch), NO_EFFECTS

    def __repr__(self) -> str:
        args = [repr(list(self.swa_lrs) if isinstance(self.swa_lrs, tuple) else self.swa_lrs)]
        for name, default in (("swa_epoch_start", 0.8), ("annealing_epochs", 10), ("annealing_strategy", "cos"),
                              ("avg_fn", None), ("device", "cpu")):
            value = getattr(self, name)
            if value != default:
                args.append(f"{name}={getattr(value, '__name__', None) or value!r}")
        return f"{_WHERE}({', '.join(args)})"


def _lr_ok(value: Any) -> bool:
    return isinstance(value, float) and value > 0 and math.isfinite(value)


def stochastic_weight_averaging(swa_lrs: float | list[float], *, swa_epoch_start: int | float = 0.8,
                                annealing_epochs: int = 10, annealing_strategy: str = "cos",
                                avg_fn: Callable[..., Any] | None = None, device: Any = "cpu") -> SwaHook:
    """Average the weights at the start of epochs ``swa_start .. max_epochs - 1``, with SWALR's lrs.

    ``swa_epoch_start``: an int ``>= 1`` (1-based epoch) or a float in ``[0, 1]`` (fraction
    of ``max_epochs``, floored); the first averaged epoch is ``max(start - 1, 0)``.
    ``swa_lrs``: one positive float, or one per param group. Over ``annealing_epochs``
    epochs each group's lr moves from its value at ``swa_start`` to its ``swa_lr``
    (:func:`anneal_alpha`, :func:`swa_lr`); the user's schedulers stop stepping.
    ``avg_fn(averaged, current, n_averaged)`` replaces the running mean. When fit ends
    after the last epoch: :class:`SwapAveraged` then :class:`UpdateBatchNorm`.

    Raises:
        InvalidArgument: a bad ``swa_lrs``, ``swa_epoch_start``, ``annealing_epochs``,
            ``annealing_strategy``, ``avg_fn`` or ``device``.
        MisconfigurationError: (at ``fit_start``) no finite ``max_epochs``, a start past the
            last epoch, or ``swa_lrs`` not matching the param groups.
    """
    if isinstance(swa_lrs, (list, tuple)):
        if not swa_lrs or not all(_lr_ok(v) for v in swa_lrs):
            raise InvalidArgument(f"{_WHERE}: swa_lrs={swa_lrs!r} must be a positive float or a list of positive floats")
        lrs: float | tuple[float, ...] = tuple(swa_lrs)
    elif _lr_ok(swa_lrs):
        lrs = swa_lrs
    else:
        raise InvalidArgument(f"{_WHERE}: swa_lrs={swa_lrs!r} must be a positive float or a list of positive floats")
    start = swa_epoch_start
    if isinstance(start, bool) or not (isinstance(start, int) and start >= 1 or isinstance(start, float) and 0 <= start <= 1):
        raise InvalidArgument(f"{_WHERE}: swa_epoch_start={start!r} must be an int >= 1 or a float in [0, 1]")
    if isinstance(annealing_epochs, bool) or not isinstance(annealing_epochs, int) or annealing_epochs < 0:
        raise InvalidArgument(f"{_WHERE}: annealing_epochs={annealing_epochs!r} must be an int >= 0")
    if annealing_strategy not in STRATEGIES:
        raise InvalidArgument(f"{_WHERE}: annealing_strategy={annealing_strategy!r} must be 'cos' or 'linear'")
    if avg_fn is not None and not callable(avg_fn):
        raise InvalidArgument(f"{_WHERE}: avg_fn={avg_fn!r} must be None or callable (averaged, current, n) -> averaged")
    if device is not None and not isinstance(device, str) and type(device).__name__ != "device":
        raise InvalidArgument(f"{_WHERE}: device={device!r} must be None, a string or a torch.device")
    return SwaHook(lrs, start, annealing_epochs, annealing_strategy, avg_fn, None if device is None else str(device))
