"""The callbacks a Trainer adds by itself, as Lightning does, after the user's own.

>>> default_callbacks([], max_time=60.0, checkpointing=True)
[timer(datetime.timedelta(seconds=60)), ModelCheckpoint()]
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fhooks.core.hook import HookLike, children
from fhooks.errors import MisconfigurationError
from fhooks.hooks.model_checkpoint import ModelCheckpoint as ModelCheckpointHook
from fhooks.hooks.on_exception_checkpoint import OnExceptionCheckpoint as OnExceptionHook
from fhooks.hooks.timer import TimerHook, timer

_CHECKPOINTS = (ModelCheckpointHook, OnExceptionHook)


def _contains(hooks: list[HookLike], kind: type) -> bool:
    """Whether an instance of ``kind`` sits anywhere in the expressions ``hooks``."""
    stack: list[Any] = list(hooks)
    while stack:
        hook = stack.pop()
        if isinstance(hook, kind):
            return True
        stack.extend(children(hook))
    return False


def default_callbacks(callbacks: list[HookLike], *, max_time: float | None, checkpointing: bool) -> list[HookLike]:
    """Hooks to append: a step timer for ``max_time``, a ``ModelCheckpoint()`` when checkpointing and none is given.

    Raises:
        MisconfigurationError: a checkpoint hook is given while ``enable_checkpointing=False``.
    """
    from fhooks.callbacks.model_checkpoint import ModelCheckpoint

    added: list[HookLike] = []
    if max_time is not None and not _contains(callbacks, TimerHook):
        added.append(timer(timedelta(seconds=max_time), interval="step"))
    has_checkpoint = any(_contains([c], _CHECKPOINTS) for c in callbacks)
    if has_checkpoint and not checkpointing:
        raise MisconfigurationError("Trainer: enable_checkpointing=False but a checkpoint callback "
                                    "(ModelCheckpoint or OnExceptionCheckpoint) is in callbacks; remove one of the two")
    if checkpointing and not has_checkpoint:
        added.append(ModelCheckpoint())
    return added
