"""``model_checkpoint``: which checkpoint files to write and delete, decided purely (Lightning's ModelCheckpoint).

The hook returns :class:`~fhooks.core.effects.SaveCheckpoint`,
:class:`~fhooks.core.effects.RemoveCheckpoint` and :class:`LinkCheckpoint`
effects; the trainer writes the files. It never removes a file it did not write.

>>> from fhooks.core import Event, fold
>>> mc = model_checkpoint("/ckpts", monitor="val_loss", save_top_k=2)
>>> mc
model_checkpoint('/ckpts', monitor='val_loss', save_top_k=2)
>>> losses = [5.0, 3.0, 4.0]
>>> events = [Event("train_epoch_end", epoch=e, step=2 * e + 2, metrics={"val_loss": v}) for e, v in enumerate(losses)]
>>> state, effects = fold(mc, events)
>>> [type(e).__name__ + " " + e.path.split("/")[-1] for e in effects]
['SaveCheckpoint epoch=0-step=2.ckpt', 'SaveCheckpoint epoch=1-step=4.ckpt', \
'SaveCheckpoint epoch=2-step=6.ckpt', 'RemoveCheckpoint epoch=0-step=2.ckpt']
>>> state.best_model_score, state.best_model_path.split("/")[-1]
(3.0, 'epoch=1-step=4.ckpt')
"""

from __future__ import annotations

import datetime
import math
import os
from typing import Any

import attrs

from fhooks.core.effects import Effect
from fhooks.errors import InvalidArgument
from fhooks.hooks.checkpoint_names import NAMING, Naming
from fhooks.hooks.checkpoint_steps import STEPS, LinkCheckpoint, ModelCheckpointState

__all__ = ["LinkCheckpoint", "ModelCheckpoint", "ModelCheckpointState", "model_checkpoint", "triggers"]

_SAVE_LAST = (None, False, True, "link")


def _int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"model_checkpoint: {name}={value!r} must be an int >= {low}")
    if value < low:
        raise InvalidArgument(f"model_checkpoint: {name}={value!r} must be >= {low}")
    return value


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or math.isinf(value):
        raise InvalidArgument(
            f"model_checkpoint: train_time_interval={value!r} must be a timedelta or a finite number of seconds >= 0"
        )
    return float(value)


def triggers(every_n_train_steps: int | None, every_n_epochs: int | None,
             train_time_interval: Any) -> tuple[int, int, float | None]:
    """Normalise the three save triggers as Lightning does, and check they do not conflict.

    None of them given means every epoch; otherwise the unset ints become 0.

    >>> triggers(None, None, None), triggers(5, None, None)
    ((0, 1, None), (5, 0, None))
    """
    seconds = _seconds(train_time_interval)
    if every_n_train_steps is None and every_n_epochs is None and seconds is None:
        return 0, 1, None
    steps = _int(every_n_train_steps or 0, "every_n_train_steps", 0)
    epochs = _int(every_n_epochs or 0, "every_n_epochs", 0)
    if (steps >= 1) + (epochs >= 1) + (seconds is not None) > 1:
        raise InvalidArgument(
            f"model_checkpoint: every_n_train_steps={steps}, every_n_epochs={epochs} and "
            f"train_time_interval={train_time_interval!r} are mutually exclusive; set only one of them"
        )
    return steps, epochs, seconds


@attrs.frozen(repr=False)
class ModelCheckpoint:
    """The ``model_checkpoint`` hook: configuration only; decisions live in :mod:`fhooks.hooks.checkpoint_steps`."""

    dirpath: str | None = None
    filename: str | None = None
    monitor: str | None = None
    mode: str = "min"
    save_top_k: int = 1
    save_last: bool | str | None = None
    save_weights_only: bool = False
    every_n_train_steps: int = 0
    every_n_epochs: int = 1
    train_time_interval: float | None = None
    save_on_train_epoch_end: bool | None = None
    save_on_exception: bool = False
    auto_insert_metric_name: bool = True
    enable_version_counter: bool = True
    naming: Naming = NAMING
    shape_name = "model_checkpoint"

    @property
    def init(self) -> ModelCheckpointState:
        return ModelCheckpointState(kth_value=math.inf if self.mode == "min" else -math.inf,
                                    dirpath=self.dirpath or "")

    @property
    def kinds(self) -> frozenset[str]:
        kinds = {"setup", "fit_start", "train_start", "train_epoch_end", "validation_end", "train_end"}
        if self.every_n_train_steps >= 1 or self.train_time_interval is not None:
            kinds.add("train_batch_end")
        if self.save_on_exception:
            kinds.add("exception")
        return frozenset(kinds)

    def step(self, state: ModelCheckpointState, event: Any) -> tuple[ModelCheckpointState, tuple[Effect, ...]]:
        return STEPS[event.kind](self, state, event)

    def __repr__(self) -> str:
        parts = [] if self.dirpath is None else [repr(self.dirpath)]
        defaults = {f.name: f.default for f in attrs.fields(type(self))}
        for name in ("filename", "monitor", "mode", "save_top_k", "save_last", "save_weights_only",
                     "every_n_train_steps", "every_n_epochs", "train_time_interval", "save_on_train_epoch_end",
                     "save_on_exception", "auto_insert_metric_name", "enable_version_counter", "naming"):
            value = getattr(self, name)
            if value != defaults[name]:
                parts.append(f"{name}={value!r}")
        return f"model_checkpoint({', '.join(parts)})"


def model_checkpoint(dirpath: str | os.PathLike[str] | None = None, filename: str | None = None, *,
                     monitor: str | None = None, mode: str = "min", save_top_k: int = 1,
                     save_last: bool | str | None = None, save_weights_only: bool = False,
                     every_n_train_steps: int | None = None, every_n_epochs: int | None = None,
                     train_time_interval: datetime.timedelta | float | None = None,
                     save_on_train_epoch_end: bool | None = None, save_on_exception: bool = False,
                     auto_insert_metric_name: bool = True, enable_version_counter: bool = True,
                     naming: Naming = NAMING) -> ModelCheckpoint:
    """Save checkpoints on a schedule and keep the ``save_top_k`` best by ``monitor`` (Lightning's defaults).

    ``dirpath=None`` uses the trainer's ``RunInfo.checkpoint_dir``. Names follow
    ``filename`` (default ``"{epoch}-{step}"``, see :mod:`fhooks.hooks.checkpoint_names`);
    ``save_last`` writes ``last.ckpt`` too (``"link"``: a symlink to the newest file).
    Never saves twice at one global step, nor at step 0.

    >>> model_checkpoint(monitor="val_loss", save_top_k=2, mode="max")
    model_checkpoint(monitor='val_loss', mode='max', save_top_k=2)

    Raises:
        InvalidArgument: an invalid ``mode``, ``save_top_k < -1``, negative or conflicting triggers,
            ``save_top_k > 1`` without a monitor, an unknown ``save_last``, a ``dirpath`` that is not a path,
            a ``filename`` that is not a string or leaves ``dirpath`` (absolute, ``..``), or a flag that is not a bool.
    """
    if mode not in ("min", "max"):
        raise InvalidArgument(f"model_checkpoint: mode={mode!r} must be 'min' or 'max'")
    _int(save_top_k, "save_top_k", -1)
    if monitor is not None and not isinstance(monitor, str):
        raise InvalidArgument(f"model_checkpoint: monitor={monitor!r} must be a metric name (str) or None")
    if monitor is None and save_top_k not in (-1, 0, 1):
        raise InvalidArgument(
            f"model_checkpoint: save_top_k={save_top_k} needs a monitor to rank checkpoints by "
            "(without one only -1, 0 and 1 are valid); pass monitor='val_loss' or similar"
        )
    if not any(save_last is v and type(save_last) is type(v) for v in _SAVE_LAST) and save_last != "link":
        raise InvalidArgument(f"model_checkpoint: save_last={save_last!r} must be None, False, True or 'link'")
    steps, epochs, seconds = triggers(every_n_train_steps, every_n_epochs, train_time_interval)
    for name, flag in (("save_weights_only", save_weights_only), ("save_on_exception", save_on_exception),
                       ("auto_insert_metric_name", auto_insert_metric_name),
                       ("enable_version_counter", enable_version_counter)):
        if not isinstance(flag, bool):
            raise InvalidArgument(f"model_checkpoint: {name}={flag!r} must be True or False")
    if save_on_train_epoch_end is not None and not isinstance(save_on_train_epoch_end, bool):
        raise InvalidArgument(f"model_checkpoint: save_on_train_epoch_end={save_on_train_epoch_end!r} "
                              "must be None, True or False")
    return ModelCheckpoint(_dirpath(dirpath), _filename(filename), monitor, mode, save_top_k, save_last,
                           save_weights_only, steps, epochs, seconds, save_on_train_epoch_end,
                           save_on_exception, auto_insert_metric_name, enable_version_counter, naming)


def _dirpath(dirpath: Any) -> str | None:
    """The folder, resolved (``~`` expanded, ``realpath``), as Lightning resolves a given ``dirpath``."""
    if dirpath is None:
        return None
    if not isinstance(dirpath, (str, os.PathLike)):
        raise InvalidArgument(f"model_checkpoint: dirpath={dirpath!r} must be a path (str or os.PathLike) or None")
    text = os.fspath(dirpath)
    if not isinstance(text, str):
        raise InvalidArgument(f"model_checkpoint: dirpath={dirpath!r} must be a text path, not bytes")
    return os.path.realpath(os.path.expanduser(text)) if text else None


def _filename(filename: Any) -> str | None:
    """The name template: a name inside ``dirpath`` (subfolders allowed); never absolute, never ``..``."""
    if filename is None or filename == "":
        return None
    if not isinstance(filename, str):
        raise InvalidArgument(f"model_checkpoint: filename={filename!r} must be a name template (str) or None")
    if os.path.isabs(filename) or ".." in filename.replace("\\", "/").split("/"):
        raise InvalidArgument(
            f"model_checkpoint: filename={filename!r} must name a file inside dirpath (no absolute path, no '..' "
            "part); put the folder in dirpath= and keep filename= for the name, e.g. dirpath='../best', "
            "filename='{epoch}'")
    return filename
