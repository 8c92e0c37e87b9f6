"""``StochasticWeightAveraging``: Lightning's class, over :func:`~fhooks.hooks.swa.stochastic_weight_averaging`.

>>> from fhooks.core import Event, fold
>>> from fhooks.core.events import RunInfo
>>> swa = StochasticWeightAveraging(swa_lrs=0.01, swa_epoch_start=0.5)
>>> swa
StochasticWeightAveraging(0.01, swa_epoch_start=0.5)
>>> _ = fold(swa, [Event("fit_start", data=RunInfo(max_epochs=10))])
>>> swa.swa_start, swa.swa_end, swa.n_averaged
(4, 9, 0)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fhooks.callbacks.base import HookCallback
from fhooks.hooks.swa import SwaHook, SwaState, stochastic_weight_averaging


class StochasticWeightAveraging(HookCallback):
    """Average the weights of the last epochs and anneal the lr to ``swa_lrs`` (Lightning's arguments).

    At the end of fit the module holds the averaged weights and BatchNorm running
    statistics recomputed over the training data; the average is kept in every full
    checkpoint, so a resumed run averages on from the same values.

    Raises:
        InvalidArgument: an argument :func:`~fhooks.hooks.swa.stochastic_weight_averaging` rejects.
    """

    hook: SwaHook
    _state: SwaState

    def __init__(self, swa_lrs: float | list[float], swa_epoch_start: int | float = 0.8, annealing_epochs: int = 10,
                 annealing_strategy: str = "cos", avg_fn: Callable[..., Any] | None = None,
                 device: Any = "cpu") -> None:
        self._wrap(stochastic_weight_averaging(swa_lrs, swa_epoch_start=swa_epoch_start,
                                               annealing_epochs=annealing_epochs,
                                               annealing_strategy=annealing_strategy, avg_fn=avg_fn, device=device))

    swa_lrs = property(lambda self: self.hook.swa_lrs, doc="The SWA lr (one, or one per param group).")
    swa_epoch_start = property(lambda self: self.hook.swa_epoch_start, doc="As given: an int or a fraction.")
    annealing_epochs = property(lambda self: self.hook.annealing_epochs, doc="Epochs of lr annealing.")
    annealing_strategy = property(lambda self: self.hook.annealing_strategy, doc="'cos' or 'linear'.")
    swa_start = property(lambda self: self.state.swa_start, doc="First averaged epoch (0-based), set at fit_start.")
    swa_end = property(lambda self: self.state.swa_end, doc="Last averaged epoch (max_epochs - 1).")
    n_averaged = property(lambda self: self.state.n_averaged, doc="Snapshots in the average so far.")

    def __repr__(self) -> str:
        return "StochasticWeightAveraging" + repr(self.hook)[len("stochastic_weight_averaging"):]
