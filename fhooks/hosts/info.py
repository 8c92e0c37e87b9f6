"""What hooks learn of a host's optimizers and schedulers at ``setup``/``fit_start``, as plain data.

>>> import torch
>>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
>>> optimizer_infos([opt])[0].param_groups[0]["lr"]
0.1
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from fhooks.core.events import OptimizerInfo, SchedulerInfo
from fhooks.core.frozendict import frozendict


def optimizer_infos(optimizers: Iterable[Any]) -> tuple[OptimizerInfo, ...]:
    """Each optimizer's class name and its param groups' plain hyperparameters."""
    return tuple(OptimizerInfo(type(o).__name__, tuple(
        frozendict({k: v for k, v in g.items() if k != "params" and isinstance(v, (int, float, str, tuple))})
        for g in o.param_groups)) for o in optimizers)


def scheduler_infos(configs: Iterable[Any], optimizers: list[Any]) -> tuple[SchedulerInfo, ...]:
    """Each scheduler config's optimizer index, interval and name."""
    found = []
    for config in configs:
        optimizer = getattr(config.scheduler, "optimizer", None)
        index = next((i for i, o in enumerate(optimizers) if o is optimizer), 0)
        found.append(SchedulerInfo(index, getattr(config, "interval", "epoch"), getattr(config, "name", None)))
    return tuple(found)


def existing_checkpoints(hook: Any, checkpoint_dir: str | os.PathLike[str]) -> tuple[str, ...]:
    """The files already in each ``model_checkpoint``'s folder when a run starts (so its names step around them)."""
    from fhooks.core.hook import instances
    from fhooks.hooks.model_checkpoint import ModelCheckpoint

    folders = {found.dirpath or os.fspath(checkpoint_dir) for found in instances([hook], ModelCheckpoint)}
    return tuple(sorted(os.path.join(folder, name) for folder in folders if os.path.isdir(folder)
                        for name in os.listdir(folder)))
