"""``ThroughputMonitor``: Lightning's class, over :func:`~fhooks.hooks.throughput.throughput_monitor`.

>>> from fhooks.core import Event, fold
>>> from fhooks.core.events import BatchData
>>> cb = ThroughputMonitor(len, window_size=2)
>>> cb
ThroughputMonitor(len, window_size=2)
>>> class Run:  # a RunInfo with log_every_n_steps=1
...     log_every_n_steps = 1
>>> events = [Event("setup", data=Run()), Event("train_start")]
>>> for i, t in enumerate([1.0, 2.0]):
...     events += [Event("train_batch_start", step=i), Event("train_batch_end", step=i + 1, time=t, data=BatchData([0, 1]))]
>>> fold(cb, events)[1][-1]
Log({'train/time': 2.0, 'train/batches': 2, 'train/samples': 4, 'train/device/batches_per_sec': 1.0, 'train/device/samples_per_sec': 2.0, 'epoch': 0}, step=2)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from fhooks.callbacks.base import HookCallback
from fhooks.core.effects import Do, Effects
from fhooks.core.events import Event
from fhooks.hooks.throughput import ThroughputMonitorHook, ThroughputMonitorState, build_throughput_monitor
from fhooks.errors import InvalidArgument

_KWARGS = ("window_size", "separator", "flops_per_batch", "available_flops")
#: Where the module's ``flops_per_batch`` is read (before the hook hears the event).
_READ_FLOPS_AT = frozenset({"train_start", "train_batch_start", "validation_start", "test_start", "predict_start"})


class ThroughputMonitor(HookCallback):
    """Log batches, samples and items per second over a sliding window, and FLOP/s and MFU when FLOPs are known.

    ``batch_size_fn(batch)``: samples in a batch; ``length_fn(batch)``: items
    (e.g. tokens) in it. ``throughput_kwargs``: ``window_size`` (100),
    ``separator`` ("/"), ``flops_per_batch`` (see
    ``fhooks.trainer.flops.measure_flops``) and ``available_flops`` (per
    device; see ``fhooks.trainer.flops.available_flops``). Keys are Lightning's:
    ``train/time``, ``train/samples``, ``train/device/samples_per_sec``, ``validate/...``.

    Raises:
        InvalidArgument: an unknown keyword, or a value :func:`~fhooks.hooks.throughput.throughput_monitor` rejects.
    """

    hook: ThroughputMonitorHook
    _state: ThroughputMonitorState

    def __init__(self, batch_size_fn: Callable[[Any], int], length_fn: Callable[[Any], int] | None = None,
                 **throughput_kwargs: Any) -> None:
        unknown = sorted(set(throughput_kwargs) - set(_KWARGS))
        if unknown:
            raise InvalidArgument(f"ThroughputMonitor: unknown keyword {', '.join(map(repr, unknown))}; "
                                  f"accepted: {', '.join(_KWARGS)}")
        options = {"window_size": 100, "separator": "/", "flops_per_batch": None, "available_flops": None,
                   **throughput_kwargs}
        self._wrap(build_throughput_monitor(batch_size_fn, length_fn, *(options[k] for k in _KWARGS),
                                            "ThroughputMonitor"))
        self._module_flops = options["flops_per_batch"] is None

    batch_size_fn = property(lambda self: self.hook.batch_size_fn, doc="batch -> number of samples.")
    length_fn = property(lambda self: self.hook.length_fn, doc="batch -> number of items, or None.")
    window_size = property(lambda self: self.hook.window_size, doc="Updates the rates are computed over.")

    def step(self, state: Any, event: Event) -> tuple[Any, Effects]:
        """The hook's step; at each stage start and training batch start, when no ``flops_per_batch`` was given, a
        ``Do`` effect first reads the module's ``flops_per_batch`` attribute, as Lightning does."""
        if self._module_flops and event.kind in _READ_FLOPS_AT:
            read = Do(self._read_module_flops, "ThroughputMonitor: read pl_module.flops_per_batch")
            state, effects = super().step(state, event)
            return state, (read, *effects)
        return super().step(state, event)

    def _read_module_flops(self, ctx: Any) -> None:
        value = getattr(ctx.module, "flops_per_batch", None)
        if value != self.hook.flops_per_batch and (value is None or isinstance(value, (int, float))):
            self.hook = attrs.evolve(self.hook, flops_per_batch=value)

    @property
    def available_flops(self) -> float | None:
        """FLOP/s one device can do: the given value, else what ``setup`` found (None: unknown)."""
        return self.hook.available_flops if self.hook.available_flops is not None else self.state.available_flops

    @property
    def kwargs(self) -> dict[str, Any]:
        """The ``throughput_kwargs`` in effect (Lightning's attribute)."""
        return {k: getattr(self.hook, k) for k in _KWARGS}

    def __repr__(self) -> str:
        return "ThroughputMonitor" + repr(self.hook)[len("throughput_monitor"):]
