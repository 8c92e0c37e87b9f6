"""Handlers of :mod:`fhooks.hooks.device_stats`: read the device's figures and log them.

>>> stats = device_stats("cpu") if psutil_available() else {"cpu_percent": 0.0, "cpu_vm_percent": 0.0,
...                                                           "cpu_swap_percent": 0.0}
>>> sorted(stats)
['cpu_percent', 'cpu_swap_percent', 'cpu_vm_percent']
"""

from __future__ import annotations

import importlib.util
from typing import Any

import torch

from fhooks.errors import MisconfigurationError
from fhooks.hooks.device_stats import CheckDeviceStats, LogDeviceStats
from fhooks.interpret.registry import Context, handles, module_device

_WHERE = "DeviceStatsMonitor"


def psutil_available() -> bool:
    """Whether psutil can be imported."""
    return importlib.util.find_spec("psutil") is not None


def cpu_stats() -> dict[str, float]:
    """psutil's figures, under Lightning's keys: ``cpu_vm_percent``, ``cpu_percent``, ``cpu_swap_percent``.

    Raises:
        ModuleNotFoundError: psutil is not installed (the message says what to install).
    """
    if not psutil_available():
        raise ModuleNotFoundError(
            f"{_WHERE}: CPU stats need psutil, which is not installed; pip install 'fhooks[psutil]' "
            "(or pip install psutil), or pass cpu_stats=False", name="psutil")
    import psutil

    return {"cpu_vm_percent": psutil.virtual_memory().percent, "cpu_percent": psutil.cpu_percent(),
            "cpu_swap_percent": psutil.swap_memory().percent}


def device_stats(device: torch.device | str, with_cpu: bool | None = None) -> dict[str, float]:
    """The figures of ``device``: ``torch.cuda.memory_stats`` on CUDA, psutil's on CPU (``with_cpu``: add them on CUDA)."""
    device = torch.device(device)
    if device.type == "cpu":
        return cpu_stats()
    stats: dict[str, Any] = dict(torch.cuda.memory_stats(device)) if device.type == "cuda" else {}
    if with_cpu:
        stats.update(cpu_stats())
    return stats


def _loggers(host: Any) -> list[Any]:
    loggers = getattr(host, "loggers", None)
    return list(loggers) if loggers else []


@handles(CheckDeviceStats)
def _check(effect: CheckDeviceStats, ctx: Context) -> None:
    host = ctx.host
    if not _loggers(host):
        raise MisconfigurationError(f"{_WHERE}: the Trainer has no logger (logger=False); give it one "
                                    "(e.g. logger=CSVLogger(...)) or remove the callback")
    if effect.cpu_stats is None and module_device(host, ctx.module).type == "cpu" and not psutil_available():
        cpu_stats()


@handles(LogDeviceStats)
def _log(effect: LogDeviceStats, ctx: Context) -> None:
    host = ctx.host
    device = module_device(host, ctx.module)
    if device.type == "cpu" and effect.cpu_stats is False:
        return
    loggers = _loggers(host)
    separator = getattr(loggers[0], "group_separator", "/") if loggers else "/"
    prefix = f"{_WHERE}.{effect.hook_name}{separator}"
    stats = device_stats(device, effect.cpu_stats)
    host.log_metrics({prefix + key: value for key, value in stats.items()}, effect.step)
