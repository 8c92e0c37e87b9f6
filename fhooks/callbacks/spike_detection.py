"""``SpikeDetection``: Lightning's class, over :func:`~fhooks.hooks.spike_detection`.

>>> from fhooks.core import Event, fold
>>> cb = SpikeDetection(window=2, warmup=0)
>>> cb
SpikeDetection(window=2, warmup=0)
>>> events = [Event("train_batch_end", batch_idx=i, metrics={"loss": x}) for i, x in enumerate([1.0, 9.0])]
>>> _, effects = fold(cb, events)
>>> cb.bad_batches, cb.last_val, effects[-1].error
([0, 1], 1.0, TrainingSpikeException(1))
"""

from __future__ import annotations

import os

from fhooks.callbacks.base import HookCallback
from fhooks.hooks.spike import SpikeDetectionHook, SpikeState, build_spike_detection, running_mean


class SpikeDetection(HookCallback):
    """Raise ``TrainingSpikeException`` when the training loss spikes; record the batches to skip.

    Arguments, defaults and the rule are Lightning's (see :func:`fhooks.hooks.spike_detection`).
    ``state_dict``/``load_state_dict`` round-trip (Lightning 2.5.6's ``load_state_dict`` crashes).

    Raises:
        InvalidArgument: a ``mode`` other than "min"/"max", ``window < 1``, ``warmup < 0``, a non-numeric tolerance.
    """

    hook: SpikeDetectionHook
    _state: SpikeState

    def __init__(self, mode: str = "min", window: int = 10, warmup: int = 1, atol: float | None = None,
                 rtol: float | None = 2.0, exclude_batches_path: str | os.PathLike[str] | None = None,
                 finite_only: bool = True) -> None:
        self._wrap(build_spike_detection(mode, window, warmup, atol, rtol, exclude_batches_path, finite_only,
                                         "SpikeDetection"))

    mode = property(lambda self: self.hook.mode, doc="'min' or 'max'.")
    window = property(lambda self: self.hook.window, doc="How many accepted losses the running mean covers.")
    warmup = property(lambda self: self.hook.warmup, doc="Batches of each epoch checked for no spike.")
    atol = property(lambda self: self.hook.atol, doc="The absolute tolerance, or None.")
    rtol = property(lambda self: self.hook.rtol, doc="The relative tolerance, or None.")
    finite_only = property(lambda self: self.hook.finite_only, doc="Whether a non-finite loss is a spike.")
    exclude_batches_path = property(lambda self: self.hook.exclude_batches_path, doc="As given (None: the default).")

    @property
    def last_val(self) -> float:
        """The last accepted loss (0.0 before any)."""
        return self.state.last_val

    @property
    def bad_batches(self) -> list[int]:
        """The batch indices to skip: ``[i - 1, i]`` for each spike at batch ``i``."""
        return list(self.state.bad_batches)

    @property
    def running_mean(self) -> float:
        """The mean of the last ``window`` accepted losses (NaN before any): a float, not a metric object."""
        return running_mean(self.state.window)

    def __repr__(self) -> str:
        return "SpikeDetection" + repr(self.hook)[len("spike_detection"):]
