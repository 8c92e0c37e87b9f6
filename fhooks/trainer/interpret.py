"""The effect interpreter: where effects become actions on the live trainer.

Each effect type has one handler ``fn(effect, ctx)``; :func:`handles` registers
more (callbacks that need new actions bring their own effect and handler).

>>> from fhooks.core import Stop
>>> Stop in HANDLERS
True
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs

from fhooks.core.effects import (
    Do,
    Effect,
    Log,
    Print,
    Raise,
    RemoveCheckpoint,
    SaveCheckpoint,
    SetAccumulation,
    SetLearningRates,
    Stop,
)
from fhooks.core.events import Event
from fhooks.errors import InvalidArgument

E = TypeVar("E", bound=Effect)
Handler = Callable[[Any, "Context"], None]
HANDLERS: dict[type, Handler] = {}


@attrs.define
class Context:
    """What a handler (and a ``Do`` function) works with: the live trainer, module and the event."""

    trainer: Any
    module: Any
    event: Event


@attrs.frozen
class Decision:
    """One entry of the trainer's decision log: an effect and the event it came from."""

    event: Event
    effect: Effect

    def __str__(self) -> str:
        e = self.event
        return f"{e.kind} (epoch {e.epoch}, step {e.step}, batch {e.batch_idx}): {self.effect!r}"


def handles(effect_type: type[E]) -> Callable[[Callable[[E, Context], None]], Callable[[E, Context], None]]:
    """Register the function that carries out effects of ``effect_type``."""

    def register(fn: Callable[[E, Context], None]) -> Callable[[E, Context], None]:
        HANDLERS[effect_type] = fn
        return fn

    return register


def interpret(effect: Effect, ctx: Context) -> None:
    """Carry out one effect, or fail naming the effect that has no handler."""
    handler = HANDLERS.get(type(effect))
    if handler is None:
        raise InvalidArgument(f"interpret: no handler for {type(effect).__name__} ({effect!r}); register one with @handles")
    handler(effect, ctx)


@handles(Stop)
def _stop(effect: Stop, ctx: Context) -> None:
    ctx.trainer.request_stop(effect.reason)


@handles(Log)
def _log(effect: Log, ctx: Context) -> None:
    ctx.trainer.log_metrics(dict(effect.metrics), effect.step)


@handles(Print)
def _print(effect: Print, ctx: Context) -> None:
    if ctx.trainer.global_rank == 0:
        print(effect.text, flush=True)


@handles(SaveCheckpoint)
def _save(effect: SaveCheckpoint, ctx: Context) -> None:
    ctx.trainer.save_checkpoint(effect.path, weights_only=effect.weights_only)


@handles(RemoveCheckpoint)
def _remove(effect: RemoveCheckpoint, ctx: Context) -> None:
    ctx.trainer.remove_checkpoint(effect.path, even_if_resumed=effect.even_if_resumed)


@handles(Raise)
def _raise(effect: Raise, ctx: Context) -> None:
    raise effect.error


@handles(Do)
def _do(effect: Do, ctx: Context) -> None:
    effect.fn(ctx)


@handles(SetLearningRates)
def _set_lrs(effect: SetLearningRates, ctx: Context) -> None:
    groups = ctx.trainer.optimizers[effect.optimizer_idx].param_groups
    if len(effect.lrs) != len(groups):
        raise InvalidArgument(f"SetLearningRates: {len(effect.lrs)} rates for {len(groups)} param groups")
    for group, lr in zip(groups, effect.lrs):
        group["lr"] = lr


@handles(SetAccumulation)
def _set_accumulation(effect: SetAccumulation, ctx: Context) -> None:
    ctx.trainer.accumulate_grad_batches = effect.factor


def resolve(path: str, directory: str | Path) -> Path:
    """A checkpoint path from an effect: relative ones live in the trainer's checkpoint directory."""
    p = Path(path)
    return p if p.is_absolute() else Path(directory) / p
