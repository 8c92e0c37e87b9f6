"""Gradient accumulation on a schedule (Lightning's ``GradientAccumulationScheduler``), as a pure hook.

``scheduling`` maps the 0-based epoch at which a factor starts to the factor;
epochs before the first key accumulate 1 batch:

>>> from fhooks.core import Event, fold
>>> h = gradient_accumulation_scheduler({1: 2, 3: 4})
>>> h
gradient_accumulation_scheduler({0: 1, 1: 2, 3: 4})
>>> [h.get_accumulate_grad_batches(epoch) for epoch in range(5)]
[1, 2, 2, 4, 4]
>>> fold(h, [Event("train_epoch_start", epoch=e) for e in range(5)])[1]
(SetAccumulation(factor=1), SetAccumulation(factor=2), SetAccumulation(factor=4))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from fhooks.core.effects import NO_EFFECTS, Effects, Raise, SetAccumulation
from fhooks.core.events import Event
from fhooks.core.frozendict import frozendict
from fhooks.core.serialize import state_class
from fhooks.errors import InvalidArgument, MisconfigurationError

_WHERE = "gradient_accumulation_scheduler"


class InvalidSchedule(InvalidArgument, TypeError):
    """A ``scheduling`` that is not a non-empty dict (Lightning raises ``TypeError`` here)."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_scheduling(scheduling: Any, where: str = _WHERE) -> frozendict:
    """Validate ``scheduling`` as Lightning does; return a sorted copy with ``{0: 1}`` added if 0 is missing.

    The caller's dict is never changed (Lightning adds ``{0: 1}`` to it).

    >>> check_scheduling({2: 4})
    frozendict({0: 1, 2: 4})
    >>> check_scheduling({1: 2.0})
    Traceback (most recent call last):
    ...
    fhooks.errors.InvalidArgument: gradient_accumulation_scheduler: accumulation factors ... must be ints >= 1, got [2.0]
    """
    if not isinstance(scheduling, Mapping) or not scheduling:
        raise InvalidSchedule(f"{where}: scheduling must be a non-empty dict {{epoch: factor}}, got {scheduling!r}")
    if not all(_is_int(k) and k >= 0 for k in scheduling):
        raise InvalidArgument(f"{where}: epochs (the keys of scheduling) must be ints >= 0, got {list(scheduling)}")
    if not all(_is_int(v) and v >= 1 for v in scheduling.values()):
        values = list(scheduling.values())
        raise InvalidArgument(f"{where}: accumulation factors (the values of scheduling) must be ints >= 1, got {values}")
    items = dict(scheduling)
    items.setdefault(0, 1)
    return frozendict(sorted(items.items()))


@state_class
class AccumulationState:
    """The factor this hook last set in the current run; 0 before the first epoch of a run."""

    factor: int = 0


_INIT = AccumulationState()


@attrs.frozen(repr=False)
class GradientAccumulationSchedulerHook:
    """Sets the accumulation factor at each ``train_epoch_start`` where the schedule changes it.

    At ``fit_start`` it forgets the factor it set (a new or resumed run starts
    from the trainer's own), and fails when the trainer was also given
    ``accumulate_grad_batches != 1``, as Lightning does.
    """

    scheduling: frozendict
    kinds = frozenset({"fit_start", "train_epoch_start"})
    init = _INIT
    shape_name = _WHERE

    def get_accumulate_grad_batches(self, epoch: int) -> int:
        """The factor for ``epoch``: the value of the largest key ``<= epoch``."""
        factor = 1
        for start, value in self.scheduling.items():
            if start > epoch:
                break
            factor = value
        return factor

    def step(self, state: AccumulationState, event: Event) -> tuple[AccumulationState, Effects]:
        if event.kind == "fit_start":
            trainer_factor = getattr(event.data, "accumulate_grad_batches", 1)
            if trainer_factor != 1:
                return _INIT, (Raise(conflict_error(trainer_factor)),)
            return _INIT, NO_EFFECTS
        factor = self.get_accumulate_grad_batches(event.epoch)
        if factor == state.factor:
            return state, NO_EFFECTS
        return AccumulationState(factor), (SetAccumulation(factor),)

    def __repr__(self) -> str:
        return f"{_WHERE}({dict(self.scheduling)!r})"


def conflict_error(trainer_factor: int) -> MisconfigurationError:
    """The error for a trainer that also sets ``accumulate_grad_batches`` (Lightning's ``ValueError``)."""
    return MisconfigurationError(
        f"{_WHERE}: Trainer(accumulate_grad_batches={trainer_factor!r}) conflicts with the accumulation schedule; "
        "either remove accumulate_grad_batches from the Trainer or remove the callback"
    )


def gradient_accumulation_scheduler(scheduling: Mapping[int, int]) -> GradientAccumulationSchedulerHook:
    """Accumulate gradients over ``scheduling[k]`` batches from epoch ``k`` (0-based) on.

    Emits ``SetAccumulation(factor)`` at the first ``train_epoch_start`` of a run
    and at each one where the factor changes. The trainer steps the optimizer
    every ``factor`` batches and on the last batch of an epoch.

    >>> gradient_accumulation_scheduler({0: 2, 2: 1}).get_accumulate_grad_batches(3)
    1

    Raises:
        TypeError: ``scheduling`` is not a non-empty dict (an ``InvalidArgument`` too).
        InvalidArgument: a key that is not an int >= 0 or a value that is not an int >= 1 (2.0 included).
    """
    return GradientAccumulationSchedulerHook(check_scheduling(scheduling))
