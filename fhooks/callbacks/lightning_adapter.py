"""Lightning's own ``Callback`` objects in an fhooks ``Trainer``: a user's subclass runs, built-ins are refused.

A subclass of ``lightning.pytorch.Callback`` written for Lightning becomes a
:class:`LightningCallback`: each ``on_*`` method it overrides is called, as a
``Do`` effect, with Lightning's arguments ``(trainer, pl_module, ...)``, and its
``state_key``/``state_dict``/``load_state_dict`` go into fhooks' checkpoints.
Lightning's built-in callbacks (``EarlyStopping``...) reach into Lightning's
trainer internals, so they are refused with the name of the fhooks class to use
(Lightning's ``LambdaCallback`` and ``Checkpoint`` base run as they are).

>>> adapt_callbacks(None)
[]
"""

from __future__ import annotations

from typing import Any

from fhooks.callbacks.base import Callback, hook_args
from fhooks.core.effects import Do, Effects
from fhooks.core.events import EVENT_KINDS, Event
from fhooks.core.lambda_hook import keyword_for
from fhooks.errors import InvalidArgument

_PACKAGES = ("lightning.pytorch", "pytorch_lightning")
#: Lightning built-ins that only call the user's functions, so they run in fhooks as they are.
_RUNS_AS_IS = frozenset({"Callback", "Checkpoint", "LambdaCallback"})


def lightning_base(value: Any) -> type | None:
    """Lightning's ``Callback`` class when ``value`` is an instance of it (from either package), else None."""
    for cls in type(value).__mro__:
        if cls.__name__ == "Callback" and cls.__module__ in (f"{p}.callbacks.callback" for p in _PACKAGES):
            return cls
    return None


def _builtin(value: Any) -> type | None:
    """The first Lightning built-in callback class in ``value``'s ancestry that fhooks cannot run, if any."""
    for cls in type(value).__mro__:
        if cls.__module__.startswith(tuple(f"{p}.callbacks." for p in _PACKAGES)) and cls.__name__ not in _RUNS_AS_IS:
            return cls
    return None


def _refusal(value: Any, builtin: type, where: str) -> InvalidArgument:
    import fhooks.callbacks

    name = builtin.__name__
    given = f"{builtin.__module__.split('.callbacks')[0]}.callbacks.{name}"
    subclass = type(value) is not builtin
    if hasattr(fhooks.callbacks, name):
        fix = (f"subclass fhooks.callbacks.{name} instead (same arguments)" if subclass
               else f"use fhooks.callbacks.{name} (same arguments)")
    else:
        fix = "fhooks has no class of that name; write a lightning.pytorch.Callback subclass or an fhooks hook"
    what = f"a subclass of {given}" if subclass else given
    return InvalidArgument(f"{where}: {what} needs Lightning's own Trainer internals; {fix}")


def _overrides(callback: Any, base: type, name: str) -> bool:
    """Whether ``callback`` has its own ``name`` method (in its class, or set on the instance as Lightning's
    ``LambdaCallback`` does)."""
    return name in vars(callback) or getattr(type(callback), name) is not getattr(base, name)


class LightningCallback(Callback):
    """A ``lightning.pytorch.Callback`` instance run by fhooks: its overridden ``on_*`` methods become ``Do`` effects.

    Attributes:
        callback: the Lightning callback; its methods get fhooks' trainer and the module.
    """

    def __init__(self, callback: Any) -> None:
        base = lightning_base(callback)
        if base is None:
            raise InvalidArgument(f"LightningCallback: {callback!r} is not a lightning.pytorch.Callback")
        self.callback = callback
        self._kinds = frozenset(kind for kind in EVENT_KINDS if _overrides(callback, base, keyword_for(kind)))

    @property
    def kinds(self) -> frozenset[str]:
        return self._kinds

    @property
    def shape_name(self) -> str:
        return type(self.callback).__qualname__

    @property
    def state_key(self) -> str:
        return self.callback.state_key

    def _call(self, event: Event) -> Do:
        method = getattr(self.callback, keyword_for(event.kind))
        args = hook_args(event)
        return Do(lambda ctx: method(ctx.trainer, ctx.module, *args), f"{self.shape_name}.{keyword_for(event.kind)}")

    def step(self, state: None, event: Event) -> tuple[None, Effects]:
        return state, (self._call(event),)

    def state_dict(self) -> dict[str, Any]:
        return self.callback.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.callback.load_state_dict(state_dict)

    def __repr__(self) -> str:
        return f"LightningCallback({self.callback!r})"


def adapt(value: Any, where: str) -> Any:
    """``value`` itself, or a :class:`LightningCallback` around a Lightning callback.

    Raises:
        InvalidArgument: a Lightning built-in callback, naming the fhooks class to use.
    """
    if lightning_base(value) is None:
        return value
    builtin = _builtin(value)
    if builtin is not None:
        raise _refusal(value, builtin, where)
    return LightningCallback(value)


def adapt_callbacks(callbacks: Any) -> list[Any]:
    """``Trainer(callbacks=...)`` as a list: one hook or callback, or an iterable of them, Lightning's adapted."""
    if callbacks is None:
        return []
    single = hasattr(callbacks, "step") or lightning_base(callbacks) is not None
    items = [callbacks] if single else list(callbacks)
    return [adapt(item, f"Trainer: callbacks[{i}]") for i, item in enumerate(items)]
