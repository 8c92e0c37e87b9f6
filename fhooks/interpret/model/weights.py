"""Handlers for weight snapshots: ``SnapshotWeights`` keeps a CPU copy, ``RestoreWeights`` loads it back.

Used by ``early_stopping(..., restore_best_weights=True)``. Snapshots live on the
trainer, in ``host.weight_snapshots`` (a dict from key to state dict), made on first use.

>>> import torch
>>> from types import SimpleNamespace
>>> from fhooks.interpret.registry import Context, interpret
>>> trainer, module = SimpleNamespace(), torch.nn.Linear(1, 1, bias=False)
>>> _ = module.weight.data.fill_(2.0)
>>> interpret(SnapshotWeights("best"), Context(trainer, module, None))
>>> _ = module.weight.data.fill_(5.0)
>>> interpret(RestoreWeights("best"), Context(trainer, module, None))
>>> module.weight.item()
2.0
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import torch

from fhooks.hooks.early_stopping import RestoreWeights, SnapshotWeights
from fhooks.interpret.registry import Context, handles

log = logging.getLogger("fhooks")


def snapshots(trainer: Any) -> dict[str, dict[str, Any]]:
    """The trainer's weight snapshots by key, created empty on first use."""
    found = getattr(trainer, "weight_snapshots", None)
    if found is None:
        found = {}
        setattr(trainer, "weight_snapshots", found)
    return found


def _cpu_copy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    return copy.deepcopy(value)


@handles(SnapshotWeights)
def _snapshot(effect: SnapshotWeights, ctx: Context) -> None:
    snapshots(ctx.host)[effect.key] = {name: _cpu_copy(v) for name, v in ctx.module.state_dict().items()}


@handles(RestoreWeights)
def _restore(effect: RestoreWeights, ctx: Context) -> None:
    kept = snapshots(ctx.host).get(effect.key)
    if kept is None:
        log.warning("RestoreWeights: no snapshot under %r in this process (a resumed run keeps none from before "
                    "the checkpoint); the weights are left as they are", effect.key)
        return
    ctx.module.load_state_dict(kept)
