"""Handler of :class:`~fhooks.hooks.lr_monitor.LogOptimizerValues`: read hyperparameters from the live optimizers.

>>> import torch
>>> opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.01, betas=(0.8, 0.99))
>>> read_value(opt, 0, "momentum", "momentum"), read_value(opt, 0, "lr", "get")
(0.8, 0.01)
"""

from __future__ import annotations

from typing import Any

from fhooks.hooks.lr_monitor import LogOptimizerValues
from fhooks.interpret.registry import Context, handles


def read_value(optimizer: Any, group_idx: int, name: str, how: str) -> float:
    """One value of a param group: ``group[name]``, or Lightning's momentum (``betas[0]``, else momentum or 0)."""
    group = optimizer.param_groups[group_idx]
    if how == "momentum":
        return group["betas"][0] if "betas" in optimizer.defaults else group.get("momentum", 0)
    return group[name]


@handles(LogOptimizerValues)
def _log_optimizer_values(effect: LogOptimizerValues, ctx: Context) -> None:
    trainer = ctx.host
    optimizers = trainer.optimizers
    values = {key: read_value(optimizers[i], j, name, how) for key, (i, j, name, how) in effect.keys.items()}
    metrics = getattr(trainer, "callback_metrics", None)
    if isinstance(metrics, dict):
        metrics.update({k: float(v) for k, v in values.items()})
    trainer.log_metrics(values, effect.step)
