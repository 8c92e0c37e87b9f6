"""``GradientAccumulationScheduler``: Lightning's class, over :func:`~fhooks.hooks.gradient_accumulation_scheduler`.

>>> from fhooks.core import Event, fold
>>> schedule = {1: 2, 3: 4}
>>> cb = GradientAccumulationScheduler(schedule)
>>> cb
GradientAccumulationScheduler(scheduling={0: 1, 1: 2, 3: 4})
>>> schedule, cb.epochs
({1: 2, 3: 4}, [0, 1, 3])
>>> fold(cb, [Event("train_epoch_start", epoch=1)])[1]
(SetAccumulation(factor=2),)
"""

from __future__ import annotations

from typing import Any

from fhooks.callbacks.base import HookCallback
from fhooks.hooks.accumulation import GradientAccumulationSchedulerHook, check_scheduling


class GradientAccumulationScheduler(HookCallback):
    """Change ``accumulate_grad_batches`` by epoch: ``scheduling[k]`` batches from epoch ``k`` (0-based) on.

    Unlike Lightning, the dict passed in is not changed: ``{0: 1}`` is added to
    a copy (``self.scheduling``) when epoch 0 has no factor.

    Raises:
        TypeError: ``scheduling`` is not a non-empty dict (an ``InvalidArgument`` too).
        InvalidArgument: a key that is not an int >= 0, a value that is not an int >= 1 (2.0 included).
    """

    hook: GradientAccumulationSchedulerHook

    def __init__(self, scheduling: dict[int, int]) -> None:
        self._wrap(GradientAccumulationSchedulerHook(check_scheduling(scheduling, "GradientAccumulationScheduler")))

    @property
    def scheduling(self) -> dict[int, int]:
        """The schedule, with ``{0: 1}`` when the caller gave no factor for epoch 0 (a copy)."""
        return dict(self.hook.scheduling)

    @property
    def epochs(self) -> list[int]:
        """The epochs at which a factor starts, sorted."""
        return list(self.hook.scheduling)

    def going_to_accumulate_grad_batches(self) -> bool:
        """Whether some epoch accumulates more than one batch."""
        return any(v > 1 for v in self.hook.scheduling.values())

    def get_accumulate_grad_batches(self, epoch: int) -> int:
        """The factor for ``epoch``: the value of the largest key ``<= epoch``."""
        return self.hook.get_accumulate_grad_batches(epoch)

    def state_dict(self) -> dict[str, Any]:
        """The factor set last, as plain data (a new run re-derives it at its first epoch)."""
        return super().state_dict()

    def __repr__(self) -> str:
        return f"GradientAccumulationScheduler(scheduling={self.scheduling!r})"
