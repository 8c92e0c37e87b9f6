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

import inspect
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


#: Lightning's parameter order: ``LambdaCallback(setup, teardown, on_fit_start, ...)``.
PARAMETER_ORDER: tuple[str, ...] = (
    "setup", "teardown", "on_fit_start", "on_fit_end", "on_sanity_check_start", "on_sanity_check_end",
    "on_train_batch_start", "on_train_batch_end", "on_train_epoch_start", "on_train_epoch_end",
    "on_validation_epoch_start", "on_validation_epoch_end", "on_test_epoch_start", "on_test_epoch_end",
    "on_validation_batch_start", "on_validation_batch_end", "on_test_batch_start", "on_test_batch_end",
    "on_train_start", "on_train_end", "on_validation_start", "on_validation_end", "on_test_start", "on_test_end",
    "on_exception", "on_save_checkpoint", "on_load_checkpoint", "on_before_backward", "on_after_backward",
    "on_before_optimizer_step", "on_before_zero_grad", "on_predict_start", "on_predict_end",
    "on_predict_batch_start", "on_predict_batch_end", "on_predict_epoch_start", "on_predict_epoch_end",
)


def _named(args: tuple[Any, ...], fns: dict[str, Any]) -> dict[str, Any]:
    """Positional arguments given their names in Lightning's order; None values dropped, as Lightning does."""
    if len(args) > len(PARAMETER_ORDER):
        raise TypeError(f"LambdaCallback: {len(args)} positional arguments given; it takes at most "
                        f"{len(PARAMETER_ORDER)} ({', '.join(PARAMETER_ORDER)})")
    named = dict(zip(PARAMETER_ORDER, args))
    twice = sorted(set(named) & set(fns))
    if twice:
        raise TypeError(f"LambdaCallback: {', '.join(twice)} given both by position and by keyword")
    return {k: fn for k, fn in {**named, **fns}.items() if fn is not None}


class LambdaCallback(HookCallback):
    """Lightning's ``LambdaCallback``: one function per hook name, each called as Lightning calls it.

    Arguments may be given by position, in Lightning's order (``setup``, ``teardown``,
    ``on_fit_start``, ...); a None is ignored, as in Lightning.

    >>> LambdaCallback(None, None, print)
    LambdaCallback(on_fit_start=print)

    Raises:
        TypeError: a keyword that is not one of Lightning's hook names, or too many positional arguments.
    """

    def __init__(self, *args: Callable[..., Any] | None, **fns: Callable[..., Any] | None) -> None:
        fns = _named(args, fns)
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


LambdaCallback.__init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    + [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None) for name in PARAMETER_ORDER])
