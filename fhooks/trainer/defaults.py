"""The callbacks and logger a Trainer adds by itself, as Lightning does, after the user's own.

In Lightning's order: a step timer for ``max_time``, the TQDM bar, the model
summary (rich when the bar is rich), then ``ModelCheckpoint``.

>>> default_callbacks([], max_time=60.0, checkpointing=True, progress_bar=False, model_summary=False)
[timer(datetime.timedelta(seconds=60)), ModelCheckpoint()]
>>> default_callbacks([], max_time=None, checkpointing=False, progress_bar=True, model_summary=True)
[TQDMProgressBar(), ModelSummary()]
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from fhooks.core.hook import HookLike, instances
from fhooks.errors import InvalidArgument, MisconfigurationError
from fhooks.hooks.model_checkpoint import ModelCheckpoint as ModelCheckpointHook
from fhooks.hooks.model_summary import ModelSummaryHook
from fhooks.hooks.on_exception_checkpoint import OnExceptionCheckpoint as OnExceptionHook
from fhooks.hooks.progress import ProgressHook, RichStyle
from fhooks.hooks.timer import TimerHook, timer

_CHECKPOINTS = (ModelCheckpointHook, OnExceptionHook)


def _progress_bar(callbacks: list[HookLike], enabled: bool) -> tuple[list[HookLike], bool]:
    """The bar to add (none or ``TQDMProgressBar()``) and whether the run's bar is rich."""
    from fhooks.callbacks.progress import TQDMProgressBar

    bars = instances(callbacks, ProgressHook)
    names = [repr(bar.source or bar) for bar in bars]  # the ProgressBar class a hook came from, if any
    if len(bars) > 1:
        raise MisconfigurationError(f"Trainer: {len(bars)} progress bars in callbacks ({', '.join(names)}); keep one")
    if bars and not enabled:
        raise MisconfigurationError(f"Trainer: enable_progress_bar=False but {names[0]} is in callbacks; "
                                    "remove one of the two")
    rich = bool(bars) and isinstance(bars[0].style, RichStyle)
    return ([TQDMProgressBar()] if enabled and not bars else []), rich


def default_callbacks(callbacks: list[HookLike], *, max_time: float | None, checkpointing: bool,
                      progress_bar: bool, model_summary: bool) -> list[HookLike]:
    """Hooks to append: a step timer for ``max_time``, a bar, a summary and a ``ModelCheckpoint`` unless given or off.

    Raises:
        MisconfigurationError: a checkpoint hook is given while ``enable_checkpointing=False``, a bar while
            ``enable_progress_bar=False``, or more than one bar.
    """
    from fhooks.callbacks.model_checkpoint import ModelCheckpoint
    from fhooks.callbacks.model_summary import ModelSummary, RichModelSummary

    added: list[HookLike] = []
    if max_time is not None and not instances(callbacks, TimerHook):
        added.append(timer(timedelta(seconds=max_time), interval="step"))
    bar, rich = _progress_bar(callbacks, progress_bar)
    added += bar
    if model_summary and not instances(callbacks, ModelSummaryHook):
        added.append(RichModelSummary() if rich else ModelSummary())
    has_checkpoint = bool(instances(callbacks, _CHECKPOINTS))
    if has_checkpoint and not checkpointing:
        raise MisconfigurationError("Trainer: enable_checkpointing=False but a checkpoint callback "
                                    "(ModelCheckpoint or OnExceptionCheckpoint) is in callbacks; remove one of the two")
    if checkpointing and not has_checkpoint:
        added.append(ModelCheckpoint())
    return added


def default_loggers(logger: Any, root_dir: str | os.PathLike[str]) -> list[Any]:
    """The loggers of ``Trainer(logger=...)``: None or True gives a ``CSVLogger`` in ``root_dir``, False none.

    >>> default_loggers(None, "runs")
    [CSVLogger('runs', name='lightning_logs', version=None)]
    >>> default_loggers(False, "runs")
    []
    """
    from fhooks.loggers import CSVLogger

    if logger is None or logger is True:
        return [CSVLogger(root_dir)]
    if logger is False:
        return []
    loggers = list(logger) if isinstance(logger, (list, tuple)) else [logger]
    for i, given in enumerate(loggers):
        if not callable(getattr(given, "log_metrics", None)):
            raise InvalidArgument(f"Trainer: logger{f'[{i}]' if len(loggers) > 1 else ''}={given!r} has no log_metrics "
                                  "method; accepted: None or True (a CSVLogger), False, a logger or a list of loggers")
    return loggers
