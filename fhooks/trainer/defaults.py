"""The callbacks a Trainer adds by itself, as Lightning does, after the user's own.

>>> default_callbacks([], max_time=60.0)
[timer(datetime.timedelta(seconds=60))]
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fhooks.core.hook import HookLike, children
from fhooks.hooks.timer import TimerHook, timer


def _contains(hooks: list[HookLike], kind: type) -> bool:
    """Whether an instance of ``kind`` sits anywhere in the expressions ``hooks``."""
    stack: list[Any] = list(hooks)
    while stack:
        hook = stack.pop()
        if isinstance(hook, kind):
            return True
        stack.extend(children(hook))
    return False


def default_callbacks(callbacks: list[HookLike], *, max_time: float | None) -> list[HookLike]:
    """Hooks to append: a step-interval timer for ``max_time`` unless the expression already has one."""
    added: list[HookLike] = []
    if max_time is not None and not _contains(callbacks, TimerHook):
        added.append(timer(timedelta(seconds=max_time), interval="step"))
    return added
