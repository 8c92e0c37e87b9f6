"""``BatchSizeFinder``: Lightning's class, over the pure :func:`~fhooks.hooks.batch_size_finder.batch_size_finder` hook.

>>> from fhooks.core import Event, fold
>>> finder = BatchSizeFinder(mode="binsearch", init_val=8)
>>> finder
BatchSizeFinder(mode='binsearch', init_val=8)
>>> fold(finder, [Event("fit_start")])[1]
(ScaleBatchSize(finder=batch_size_finder(mode='binsearch', init_val=8), resumed=False, key='batch_size_finder'),)
>>> finder.optimal_batch_size
8
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from fhooks.callbacks.base import HookCallback
from fhooks.core.effects import Effects
from fhooks.core.events import Event
from fhooks.hooks.batch_size_finder import BatchSizeFinderHook, ScaleBatchSize, batch_size_finder


class BatchSizeFinder(HookCallback):
    """Find the largest batch size that fits in memory when fit starts, then train with it.

    ``optimal_batch_size`` starts at ``init_val`` and holds the found size after the
    run. The module (or ``module.hparams``, or a datamodule) must hold
    ``batch_arg_name`` and build its data in ``train_dataloader()``.

    Raises:
        InvalidArgument: an argument :func:`~fhooks.hooks.batch_size_finder.batch_size_finder` rejects.
    """

    SUPPORTED_MODES: ClassVar[tuple[str, ...]] = ("power", "binsearch")


    hook: BatchSizeFinderHook

    def __init__(self, mode: str = "power", steps_per_trial: int = 3, init_val: int = 2, max_trials: int = 25,
                 batch_arg_name: str = "batch_size") -> None:
        self._wrap(batch_size_finder(mode, steps_per_trial, init_val, max_trials, batch_arg_name))
        self.optimal_batch_size: int | None = init_val

    mode = property(lambda self: self.hook.mode, doc="``'power'`` or ``'binsearch'``.")
    steps_per_trial = property(lambda self: self.hook.steps_per_trial, doc="Optimizer steps per trial.")
    init_val = property(lambda self: self.hook.init_val, doc="The first batch size tried.")
    max_trials = property(lambda self: self.hook.max_trials, doc="The trial budget.")
    batch_arg_name = property(lambda self: self.hook.batch_arg_name, doc="The attribute that holds the batch size.")

    def step(self, state: Any, event: Event) -> tuple[Any, Effects]:
        state, effects = super().step(state, event)
        if effects:
            effects = tuple(attrs.evolve(e, report=self._receive) if isinstance(e, ScaleBatchSize) else e
                            for e in effects)
        return state, effects

    def _receive(self, size: int) -> None:
        self.optimal_batch_size = size

    def scale_batch_size(self, trainer: Any, pl_module: Any) -> int:
        """Run the search now (e.g. from another callback); sets and returns ``optimal_batch_size``.

        The trainer must be fitting (its optimizer built); it fetches the training data again only when
        this runs during ``fit_start``.
        """
        from fhooks.trainer.batch_size_finder import scale_batch_size

        self.optimal_batch_size, _ = scale_batch_size(trainer, pl_module, self.hook)
        return self.optimal_batch_size

    def __repr__(self) -> str:
        return "BatchSizeFinder" + repr(self.hook)[len("batch_size_finder"):]
