"""``configure_optimizers`` in every form Lightning accepts, and stepping the schedulers.

>>> import torch
>>> model = torch.nn.Linear(2, 1)
>>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
>>> optimizers, schedulers = parse_optimizers({"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, 1)})
>>> len(optimizers), schedulers[0].interval
(1, 'epoch')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import torch

from fhooks.errors import MisconfigurationError

_WHERE = "configure_optimizers"


@attrs.define
class SchedulerConfig:
    """A scheduler and when to step it (Lightning's lr_scheduler dict)."""

    scheduler: Any
    interval: str = "epoch"
    frequency: int = 1
    monitor: str | None = None
    strict: bool = True
    name: str | None = None


def _is_optimizer(value: Any) -> bool:
    return isinstance(value, torch.optim.Optimizer)


def _scheduler(value: Any) -> SchedulerConfig:
    if isinstance(value, Mapping):
        if "scheduler" not in value:
            raise MisconfigurationError(f"{_WHERE}: an lr_scheduler dict needs a 'scheduler' key, got keys {sorted(value)}")
        extra = set(value) - {f.name for f in attrs.fields(SchedulerConfig)}
        if extra:
            raise MisconfigurationError(f"{_WHERE}: unknown lr_scheduler keys {sorted(extra)}; "
                                        "accepted: scheduler, interval, frequency, monitor, strict, name")
        config = SchedulerConfig(**value)
    else:
        config = SchedulerConfig(value)
    if config.interval not in ("step", "epoch"):
        raise MisconfigurationError(f"{_WHERE}: lr_scheduler interval={config.interval!r}; accepted: 'step', 'epoch'")
    if _plateau(config.scheduler) and config.monitor is None:
        raise MisconfigurationError(f"{_WHERE}: ReduceLROnPlateau needs a monitor: return "
                                    "{'optimizer': opt, 'lr_scheduler': {'scheduler': sched, 'monitor': 'val_loss'}}")
    return config


def _plateau(scheduler: Any) -> bool:
    return isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)


def _from_dict(config: Mapping[str, Any]) -> tuple[list[Any], list[SchedulerConfig]]:
    if "optimizer" not in config:
        raise MisconfigurationError(f"{_WHERE}: a returned dict needs an 'optimizer' key, got keys {sorted(config)}")
    schedulers = [_scheduler(config["lr_scheduler"])] if config.get("lr_scheduler") is not None else []
    if "monitor" in config and schedulers and schedulers[0].monitor is None:
        schedulers[0].monitor = config["monitor"]
    return [config["optimizer"]], schedulers


def parse_optimizers(config: Any) -> tuple[list[torch.optim.Optimizer], list[SchedulerConfig]]:
    """Normalise what ``configure_optimizers`` returned to (optimizers, scheduler configs)."""
    if _is_optimizer(config):
        optimizers, schedulers = [config], []
    elif isinstance(config, Mapping):
        optimizers, schedulers = _from_dict(config)
    elif isinstance(config, Sequence) and len(config) == 2 and all(isinstance(c, Sequence) for c in config):
        optimizers, schedulers = list(config[0]), [_scheduler(s) for s in config[1]]
    elif isinstance(config, Sequence) and config and all(isinstance(c, Mapping) for c in config):
        optimizers, schedulers = [], []
        for item in config:
            opts, scheds = _from_dict(item)
            optimizers += opts
            schedulers += scheds
    elif isinstance(config, Sequence) and config and all(_is_optimizer(c) for c in config):
        optimizers, schedulers = list(config), []
    else:
        raise MisconfigurationError(
            f"{_WHERE}: returned {config!r}; accepted: an optimizer, a list of optimizers, ([optimizers], [schedulers]), "
            "a dict {'optimizer': ..., 'lr_scheduler': ...}, or a list of such dicts")
    for opt in optimizers:
        if not _is_optimizer(opt):
            raise MisconfigurationError(f"{_WHERE}: {opt!r} is not a torch.optim.Optimizer")
    return optimizers, schedulers


def step_schedulers(schedulers: list[SchedulerConfig], interval: str, count: int, metrics: Mapping[str, float],
                    step: Any = None, plateau: bool | None = None) -> None:
    """Step the schedulers of ``interval`` whose frequency divides ``count`` (the epoch's batches, or epochs, done).

    ``step``: the module's ``lr_scheduler_step(scheduler, metric)``, which then does the stepping.
    ``plateau``: True or False steps only the ``ReduceLROnPlateau`` schedulers, or only the others.
    """
    for config in schedulers:
        if config.interval != interval or count % config.frequency:
            continue
        if plateau is not None and plateau != _plateau(config.scheduler):
            continue
        if _plateau(config.scheduler):
            if config.monitor not in metrics:
                if config.strict:
                    raise MisconfigurationError(
                        f"ReduceLROnPlateau: monitor {config.monitor!r} is not in the metrics "
                        f"(have: {', '.join(sorted(metrics)) or 'none'}); set 'strict': False to skip")
                continue
            if step is not None:
                step(config.scheduler, metrics[config.monitor])
            else:
                config.scheduler.step(metrics[config.monitor])
        elif step is not None:
            step(config.scheduler, None)
        else:
            config.scheduler.step()
