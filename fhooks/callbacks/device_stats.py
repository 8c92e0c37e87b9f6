"""``DeviceStatsMonitor``: Lightning's class, over :func:`~fhooks.hooks.device_stats.device_stats_monitor`.

>>> from fhooks.core import Event, fold
>>> cb = DeviceStatsMonitor(cpu_stats=True)
>>> cb
DeviceStatsMonitor(cpu_stats=True)
>>> fold(cb, [Event("setup")])[1]
(CheckDeviceStats(cpu_stats=True),)
"""

from __future__ import annotations

from fhooks.callbacks.base import HookCallback
from fhooks.hooks.device_stats import DeviceStatsHook, build_device_stats_monitor


class DeviceStatsMonitor(HookCallback):
    """Log the device's figures (CUDA memory stats, or psutil's CPU figures) around every batch.

    Keys are ``DeviceStatsMonitor.on_train_batch_start/<key>`` (and ``..._end``,
    validation, test), logged every ``log_every_n_steps`` through the trainer's
    loggers. ``cpu_stats``: None logs what the device gives; True adds CPU
    figures on an accelerator; False logs nothing on CPU. The trainer must have
    a logger; CPU figures need ``psutil`` (``pip install 'fhooks[psutil]'``).

    Raises:
        InvalidArgument: ``cpu_stats`` not None, True or False.
    """

    hook: DeviceStatsHook

    def __init__(self, cpu_stats: bool | None = None) -> None:
        self._wrap(build_device_stats_monitor(cpu_stats, "DeviceStatsMonitor"))

    cpu_stats = property(lambda self: self.hook.cpu_stats, doc="None, True or False (see the class docstring).")

    def __repr__(self) -> str:
        return "DeviceStatsMonitor" + repr(self.hook)[len("device_stats_monitor"):]
