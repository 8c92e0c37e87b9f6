"""``LambdaCallback``: Lightning's on-the-fly callback, over :func:`~fhooks.core.lambda_hook`.

Functions take Lightning's arguments ``(trainer, pl_module, ...)``:

>>> from fhooks.core import Event, fold
>>> cb = LambdaCallback(on_fit_end=lambda trainer, pl_module: print("done"))
>>> cb
LambdaCallback(on_fit_end=<lambda>)
>>> fold(cb, [Event("fit_end")])[1][0].label
'LambdaCallback.on_fit_end'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fhooks.callbacks.base import HookCallback, hook_args
from fhooks.core.combinators import fn_name
from fhooks.core.effects import Do
from fhooks.core.events import Event
from fhooks.core.lambda_hook import HOOK_NAMES, lambda_hook


def _as_do(keyword: str, fn: Callable[..., Any]) -> Callable[[Event], Do]:
    label = f"LambdaCallback.{keyword}"

    def to_effect(event: Event) -> Do:
        args = hook_args(event)
        return Do(lambda ctx: fn(ctx.trainer, ctx.module, *args), label)

    to_effect.__qualname__ = fn_name(fn)
    return to_effect


class LambdaCallback(HookCallback):
    """Lightning's ``LambdaCallback``: one function per hook name, each called as Lightning calls it.

    Raises:
        TypeError: a keyword that is not one of Lightning's hook names.
    """

    def __init__(self, **fns: Callable[..., Any]) -> None:
        for keyword in fns:
            if keyword not in HOOK_NAMES:
                lambda_hook(**{keyword: fns[keyword]})  # raises the TypeError that lists the names
        self._wrap(lambda_hook(**{k: _as_do(k, fn) for k, fn in fns.items()}))
        self._fns = fns

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """A LambdaCallback has no state to restore."""

    def __repr__(self) -> str:
        return f"LambdaCallback({', '.join(f'{k}={fn_name(fn)}' for k, fn in self._fns.items())})"
