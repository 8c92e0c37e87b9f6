"""``LearningRateFinder``: Lightning's class, over the pure :func:`~fhooks.hooks.lr_finder.lr_finder` hook.

>>> from fhooks.core import Event, fold
>>> finder = LearningRateFinder(min_lr=1e-5, num_training_steps=50)
>>> finder
LearningRateFinder(min_lr=1e-05, num_training_steps=50)
>>> fold(finder, [Event("fit_start")])[1]
(FindLearningRate(finder=lr_finder(min_lr=1e-05, num_training_steps=50), key='lr_finder'),)
>>> finder.optimal_lr is None
True
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from fhooks.callbacks.base import HookCallback
from fhooks.core.effects import Effects
from fhooks.core.events import Event
from fhooks.hooks.lr_finder import FindLearningRate, LRFinderHook, LRFinderResult, lr_finder


class LearningRateFinder(HookCallback):
    """Run the learning-rate range test when fit starts, then train at the suggested rate.

    After the run, ``optimal_lr`` is the result (Lightning's ``_LRFinder``): ``lrs``,
    ``losses`` (smoothed), ``results``, ``suggestion(skip_begin=10, skip_end=1)`` and
    ``plot(suggest=False, show=False, ax=None, path=None)``. Model, optimizer, schedulers,
    loop counters and RNG states are exactly what they were before the test.

    Raises:
        InvalidArgument: an argument :func:`~fhooks.hooks.lr_finder.lr_finder` rejects.
    """

    SUPPORTED_MODES: ClassVar[tuple[str, ...]] = ("linear", "exponential")


    hook: LRFinderHook

    def __init__(self, min_lr: float = 1e-8, max_lr: float = 1, num_training_steps: int = 100,
                 mode: str = "exponential", early_stop_threshold: float | None = 4.0, update_attr: bool = True,
                 attr_name: str = "") -> None:
        self._wrap(lr_finder(min_lr, max_lr, num_training_steps, mode, early_stop_threshold, update_attr, attr_name))
        self.optimal_lr: LRFinderResult | None = None

    def step(self, state: Any, event: Event) -> tuple[Any, Effects]:
        state, effects = super().step(state, event)
        if effects:
            effects = tuple(attrs.evolve(e, report=self._receive) if isinstance(e, FindLearningRate) else e
                            for e in effects)
        return state, effects

    def _receive(self, result: LRFinderResult) -> None:
        self.optimal_lr = result

    def lr_find(self, trainer: Any, pl_module: Any) -> LRFinderResult:
        """Run the range test now (e.g. from another callback at a later epoch); also sets ``optimal_lr``."""
        from fhooks.trainer.lr_finder import find_lr

        self.optimal_lr = find_lr(trainer, pl_module, self.hook)
        return self.optimal_lr

    def __repr__(self) -> str:
        return "LearningRateFinder" + repr(self.hook)[len("lr_finder"):]
