"""Device statistics logging (Lightning's ``DeviceStatsMonitor``), as a pure hook.

The hook decides *when* and under which key prefix; the trainer reads the
figures (``torch.cuda.memory_stats``, psutil) when it carries out a
:class:`LogDeviceStats` effect:

>>> from fhooks.core import Event, fold
>>> from fhooks.core.events import BatchData
>>> h = device_stats_monitor()
>>> h
device_stats_monitor()
>>> class Run:  # a RunInfo with log_every_n_steps=1
...     log_every_n_steps = 1
>>> _, effects = fold(h, [Event("setup", data=Run()), Event("train_batch_start", data=BatchData())])
>>> effects
(CheckDeviceStats(cpu_stats=None), LogDeviceStats(hook_name='on_train_batch_start', step=0, cpu_stats=None))
"""

from __future__ import annotations

from typing import Any

import attrs

from fhooks.core.effects import NO_EFFECTS, Effect, Effects
from fhooks.core.events import Event
from fhooks.core.serialize import state_class
from fhooks.errors import InvalidArgument

_WHERE = "device_stats_monitor"


@attrs.frozen
class CheckDeviceStats(Effect):
    """At ``setup`` of a fit: fail if the trainer has no logger, or if CPU figures are needed and psutil is missing."""

    cpu_stats: bool | None = None


@attrs.frozen
class LogDeviceStats(Effect):
    """Read the device's figures and log them as ``DeviceStatsMonitor.<hook_name>/<key>`` at ``step``.

    ``cpu_stats``: None logs what the device gives (psutil figures on CPU);
    True adds psutil's CPU figures on an accelerator; False logs nothing on CPU.
    """

    hook_name: str
    step: int
    cpu_stats: bool | None = None


@state_class
class DeviceStatsState:
    """``log_every_n_steps`` from ``setup``, the step before the current train batch, eval batches this run."""

    log_every_n_steps: int = 50
    batch_step: int = 0
    eval_count: int = 0


_TRAIN = ("train_batch_start", "train_batch_end")
_EVAL_BATCH = ("validation_batch_start", "validation_batch_end", "test_batch_start", "test_batch_end")


@attrs.frozen(repr=False)
class DeviceStatsHook:
    """Logs device figures around every batch at Lightning's cadence; see :func:`device_stats_monitor`."""

    cpu_stats: bool | None = None
    kinds = frozenset({"setup", "validation_start", "test_start", *_TRAIN, *_EVAL_BATCH})
    init = DeviceStatsState()
    shape_name = _WHERE

    def step(self, state: DeviceStatsState, event: Event) -> tuple[DeviceStatsState, Effects]:
        kind = event.kind
        every = state.log_every_n_steps
        if kind == "train_batch_start":
            state = DeviceStatsState(every, event.step, state.eval_count)
        if kind in _TRAIN:
            due = every and (state.batch_step + 1) % every == 0
        elif kind in _EVAL_BATCH:
            if kind.endswith("_start"):
                state = DeviceStatsState(every, state.batch_step, state.eval_count + 1)
            due = every and state.eval_count % every == 0
        elif kind == "setup":
            state = DeviceStatsState(getattr(event.data, "log_every_n_steps", 50), event.step, 0)
            return state, (CheckDeviceStats(self.cpu_stats),) if event.stage == "fit" else NO_EFFECTS
        else:  # validation_start, test_start: the eval batch counter restarts
            return DeviceStatsState(every, state.batch_step, 0), NO_EFFECTS
        if not due:
            return state, NO_EFFECTS
        return state, (LogDeviceStats(f"on_{kind}", state.batch_step, self.cpu_stats),)

    def __repr__(self) -> str:
        return f"{_WHERE}()" if self.cpu_stats is None else f"{_WHERE}(cpu_stats={self.cpu_stats!r})"


def build_device_stats_monitor(cpu_stats: Any, where: str) -> DeviceStatsHook:
    """:func:`device_stats_monitor` with errors that name ``where``."""
    if cpu_stats is not None and not isinstance(cpu_stats, bool):
        raise InvalidArgument(f"{where}: cpu_stats={cpu_stats!r} must be None, True or False")
    return DeviceStatsHook(cpu_stats)


def device_stats_monitor(cpu_stats: bool | None = None) -> DeviceStatsHook:
    """Log the device's figures at every train, validation and test batch start and end, as Lightning does.

    Keys are ``DeviceStatsMonitor.on_train_batch_start/<key>``: the whole
    ``torch.cuda.memory_stats`` on CUDA, ``cpu_percent``, ``cpu_vm_percent`` and
    ``cpu_swap_percent`` (psutil) on CPU. Train batches log when
    ``(step + 1) % log_every_n_steps == 0`` (``step`` before the batch, which is
    also the logged step); evaluation batches every ``log_every_n_steps``-th
    batch of the run. ``cpu_stats``: see :class:`LogDeviceStats`.

    >>> device_stats_monitor(cpu_stats=False)
    device_stats_monitor(cpu_stats=False)

    Raises:
        InvalidArgument: ``cpu_stats`` not None, True or False.
    """
    return build_device_stats_monitor(cpu_stats, _WHERE)
