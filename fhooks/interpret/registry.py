"""The effect registry: one handler ``fn(effect, ctx)`` per effect type, and :func:`interpret` to run it.

Callbacks that need new actions bring their own effect and register its handler with
:func:`handles`. Handlers act only through ``ctx.host`` (see :class:`~fhooks.interpret.host.Host`).

>>> from fhooks.core import Stop
>>> Stop in HANDLERS
True
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs

from fhooks.core.effects import Effect
from fhooks.core.events import Event
from fhooks.errors import InvalidArgument

E = TypeVar("E", bound=Effect)
Handler = Callable[[Any, "Context"], None]
HANDLERS: dict[type, Handler] = {}


@attrs.define
class Context:
    """What a handler (and a ``Do`` function) works with: the host, its module and the event.

    ``ctx.trainer`` is the host under its Lightning name, for code written against ``fhooks.Trainer``.
    """

    host: Any
    module: Any
    event: Event | None

    @property
    def trainer(self) -> Any:
        """The loop's own trainer object: Lightning's or Ignite's where the host wraps one, else the host itself."""
        host = self.host
        namespace = getattr(host, "__dict__", None)
        if namespace is not None and "trainer" in namespace:
            return namespace["trainer"]
        return host.trainer if _defines_trainer(type(host)) else host  # no AttributeError raised and caught per call


@functools.cache
def _defines_trainer(cls: type) -> bool:
    """Whether ``cls`` or a base defines a ``trainer`` attribute (a property, a slot)."""
    return any("trainer" in vars(base) for base in cls.__mro__)


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


def module_device(host: Any, module: Any) -> Any:
    """The device the host runs on: its ``device``, else the module's first parameter's, else the CPU."""
    import torch

    device = getattr(host, "device", None)
    if device is not None:
        return torch.device(device)
    first = next(iter(module.parameters()), None) if module is not None else None
    return first.device if first is not None else torch.device("cpu")


def resolve(path: str | os.PathLike[str], directory: str | os.PathLike[str]) -> Path:
    """A checkpoint path from an effect: relative ones live in the host's checkpoint directory.

    >>> resolve("a.ckpt", "/runs").as_posix(), resolve("/x/a.ckpt", "/runs").as_posix()
    ('/runs/a.ckpt', '/x/a.ckpt')
    """
    p = Path(path)
    return p if p.is_absolute() else Path(directory) / p
