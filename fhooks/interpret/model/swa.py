"""Stochastic weight averaging on the live module: the handlers of the SWA effects.

The averaged parameters and each group's lr at the start of SWA live in
``host.extra_state["stochastic_weight_averaging"]`` (``{"average": {name: tensor},
"start_lrs": [float, ...]}``), so they go into every full checkpoint and a resumed
run averages on from the same values.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

import torch

from fhooks.errors import MisconfigurationError
from fhooks.hooks.model_effects import AnnealLearningRates, SuspendSchedulers, SwapAveraged, UpdateAverage, UpdateBatchNorm
from fhooks.hooks.swa import swa_lr
from fhooks.interpret.registry import Context, handles, module_device

KEY = "stochastic_weight_averaging"
_BN = torch.nn.modules.batchnorm._BatchNorm


def _kept(ctx: Context) -> dict[str, Any]:
    return ctx.host.extra_state.setdefault(KEY, {})


def running_mean(averaged: torch.Tensor, current: torch.Tensor, n_averaged: torch.Tensor) -> torch.Tensor:
    """The default ``avg_fn``: the mean of ``n_averaged`` snapshots and ``current``.

    >>> running_mean(torch.tensor(1.0), torch.tensor(4.0), torch.tensor(2))
    tensor(2.)
    """
    return averaged + (current - averaged) / (n_averaged + 1)


@handles(UpdateAverage)
def _update(effect: UpdateAverage, ctx: Context) -> None:
    kept = _kept(ctx)
    average = kept.get("average")
    with torch.no_grad():
        if effect.n_averaged == 0 or average is None:
            kept["average"] = {name: p.detach().to(effect.device or p.device, copy=True)
                               for name, p in ctx.module.named_parameters()}
            return
        fn = effect.avg_fn or running_mean
        for name, p in ctx.module.named_parameters():
            avg = average[name]
            n = torch.tensor(effect.n_averaged, dtype=torch.long, device=avg.device)
            avg.copy_(fn(avg, p.detach().to(avg.device), n))


@handles(SwapAveraged)
def _swap(effect: SwapAveraged, ctx: Context) -> None:
    average = _kept(ctx).get("average")
    if average is None:
        raise MisconfigurationError("SwapAveraged: no averaged weights yet (no UpdateAverage was carried out)")
    with torch.no_grad():
        for name, p in ctx.module.named_parameters():
            p.copy_(average[name].to(p.device))


@handles(UpdateBatchNorm)
def _update_bn(effect: UpdateBatchNorm, ctx: Context) -> None:
    module, host = ctx.module, ctx.host
    if not any(isinstance(m, _BN) for m in module.modules()):
        return
    loader = getattr(host, "train_loader", None)
    if loader is None:
        raise MisconfigurationError(f"UpdateBatchNorm: {type(host).__name__} hands over no training data to recompute "
                                    "the BatchNorm statistics with; give the host its train loader")
    total = getattr(host, "num_training_batches", None)
    loader = loader if total is None else islice(loader, total)
    torch.optim.swa_utils.update_bn(loader, module, device=module_device(host, module))


@handles(AnnealLearningRates)
def _anneal(effect: AnnealLearningRates, ctx: Context) -> None:
    groups = ctx.host.optimizers[effect.optimizer_idx].param_groups
    kept = _kept(ctx)
    if "start_lrs" not in kept:
        kept["start_lrs"] = [float(g["lr"]) for g in groups]
    targets = effect.swa_lrs * len(groups) if len(effect.swa_lrs) == 1 else effect.swa_lrs
    if len(targets) != len(groups) or len(kept["start_lrs"]) != len(groups):
        raise MisconfigurationError(f"AnnealLearningRates: {len(effect.swa_lrs)} swa_lrs for {len(groups)} param groups")
    for group, start, target in zip(groups, kept["start_lrs"], targets):
        group["lr"] = swa_lr(start, target, effect.alpha)


@handles(SuspendSchedulers)
def _suspend(effect: SuspendSchedulers, ctx: Context) -> None:
    if ctx.host.lr_scheduler_configs:
        ctx.host.lr_scheduler_configs = []
