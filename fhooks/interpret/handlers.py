"""Handlers of the core effects, written against the host protocol.

>>> from types import SimpleNamespace
>>> from fhooks.core import Stop
>>> host = SimpleNamespace(request_stop=lambda reason: print("stop:", reason))
>>> interpret(Stop("patience"), Context(host, None, None))
stop: patience
"""

from __future__ import annotations

from fhooks.core.effects import (
    Do,
    Log,
    Print,
    Raise,
    RemoveCheckpoint,
    SaveCheckpoint,
    SetAccumulation,
    SetLearningRates,
    Stop,
)
from fhooks.errors import InvalidArgument
from fhooks.hooks.checkpoint_steps import LinkCheckpoint
from fhooks.interpret.registry import Context, handles, interpret, resolve

__all__ = ["interpret"]


@handles(Stop)
def _stop(effect: Stop, ctx: Context) -> None:
    ctx.host.request_stop(effect.reason)


@handles(Log)
def _log(effect: Log, ctx: Context) -> None:
    ctx.host.log_metrics(dict(effect.metrics), effect.step)


@handles(Print)
def _print(effect: Print, ctx: Context) -> None:
    if ctx.host.global_rank == 0:
        print(effect.text, flush=True)


@handles(SaveCheckpoint)
def _save(effect: SaveCheckpoint, ctx: Context) -> None:
    # an effect's relative path lives in the host's checkpoint folder (a user's relative path: the working directory)
    ctx.host.save_checkpoint(resolve(effect.path, ctx.host.checkpoint_dir), weights_only=effect.weights_only)


@handles(RemoveCheckpoint)
def _remove(effect: RemoveCheckpoint, ctx: Context) -> None:
    ctx.host.remove_checkpoint(effect.path, even_if_resumed=effect.even_if_resumed)


@handles(LinkCheckpoint)
def _link(effect: LinkCheckpoint, ctx: Context) -> None:
    ctx.host.link_checkpoint(effect.path, effect.target)


@handles(Raise)
def _raise(effect: Raise, ctx: Context) -> None:
    raise effect.error


@handles(Do)
def _do(effect: Do, ctx: Context) -> None:
    effect.fn(ctx)


@handles(SetLearningRates)
def _set_lrs(effect: SetLearningRates, ctx: Context) -> None:
    groups = ctx.host.optimizers[effect.optimizer_idx].param_groups
    if len(effect.lrs) != len(groups):
        raise InvalidArgument(f"SetLearningRates: {len(effect.lrs)} rates for {len(groups)} param groups")
    for group, lr in zip(groups, effect.lrs):
        group["lr"] = lr


@handles(SetAccumulation)
def _set_accumulation(effect: SetAccumulation, ctx: Context) -> None:
    ctx.host.accumulate_grad_batches = effect.factor
