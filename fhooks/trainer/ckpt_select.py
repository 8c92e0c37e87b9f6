"""Which checkpoint ``validate``/``test``/``predict`` load: Lightning's rules for ``ckpt_path`` and ``model=None``.

``"best"``: the first ``ModelCheckpoint``'s best file; ``"last"``: the newest ``last*.ckpt`` of the
checkpoint callbacks (or an ``OnExceptionCheckpoint`` file); a path: that file; None: nothing when a
model was passed, else the fitted model's best checkpoint (with Lightning's warning).

>>> select(None, "validate", "run.ckpt", model_provided=True)
'run.ckpt'
>>> select(None, "validate", None, model_provided=True) is None
True
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

from fhooks.interpret import resolve


def _tip(fn: str) -> str:
    return (f" You can pass `.{fn}(ckpt_path='best')` to use the best model or `.{fn}(ckpt_path='last')` to use the "
            "last model. If you pass a value, this warning will be silenced.")


def select(trainer: Any, fn: str, ckpt_path: Any, *, model_provided: bool) -> Any:
    """The checkpoint file ``trainer.<fn>(ckpt_path=...)`` loads (None: none), resolving ``"best"``/``"last"``."""
    if model_provided and ckpt_path is None:
        return None
    if ckpt_path is None and _on_exception(trainer) and trainer.state.fn == "fit":
        warnings.warn(f"`.{fn}(ckpt_path=None)` was called without a model. The last model of the previous `fit` "
                      f"call will be used.{_tip(fn)}", UserWarning, stacklevel=3)
        ckpt_path = "last"
    if ckpt_path is None:
        warnings.warn(f"`.{fn}(ckpt_path=None)` was called without a model. The best model of the previous `fit` "
                      f"call will be used.{_tip(fn)}", UserWarning, stacklevel=3)
        ckpt_path = "best"
    if ckpt_path == "best":
        return _best(trainer, fn)
    if ckpt_path == "last":
        return _last(trainer, fn)
    return ckpt_path


def _on_exception(trainer: Any) -> list[Any]:
    from fhooks.callbacks import OnExceptionCheckpoint

    return [cb for cb in trainer.callbacks if isinstance(cb, OnExceptionCheckpoint)]


def _best(trainer: Any, fn: str) -> str:
    callbacks = trainer.checkpoint_callbacks
    if len(callbacks) > 1:
        warnings.warn(f'`.{fn}(ckpt_path="best")` is called with Trainer configured with multiple `ModelCheckpoint` '
                      "callbacks. It will use the best checkpoint path from first checkpoint callback.",
                      UserWarning, stacklevel=4)
    if not callbacks:
        raise ValueError(f'`.{fn}(ckpt_path="best")` is set but `ModelCheckpoint` is not configured.')
    best = getattr(callbacks[0], "best_model_path", "")
    if not best:
        if trainer.fast_dev_run:
            raise ValueError(f'You cannot execute `.{fn}(ckpt_path="best")` with `fast_dev_run=True`. Please pass an '
                             f"exact checkpoint path to `.{fn}(ckpt_path=...)`")
        raise ValueError(f'`.{fn}(ckpt_path="best")` is set but `ModelCheckpoint` is not configured to save the '
                         "best model (it saved none, or fit has not run)")
    return os.fspath(resolve(best, trainer.checkpoint_dir))


def _last(trainer: Any, fn: str) -> str | None:
    from fhooks.callbacks import ModelCheckpoint

    candidates = {cb.ckpt_path for cb in _on_exception(trainer)}
    for cb in trainer.checkpoint_callbacks:
        if isinstance(cb, ModelCheckpoint):
            folder = resolve(cb.dirpath or "", trainer.checkpoint_dir)
            pattern = re.compile(rf"^{re.escape(cb.CHECKPOINT_NAME_LAST)}(-(\d+))?$")
            if folder.is_dir():
                candidates |= {os.fspath(p) for p in folder.iterdir()
                               if p.suffix == cb.FILE_EXTENSION and pattern.match(p.stem)}
    found = [Path(resolve(c, trainer.checkpoint_dir)) for c in candidates if c]
    found = [p for p in found if p.exists()]
    if not found:
        warnings.warn(f'.{fn}(ckpt_path="last") is set, but there is no last checkpoint available. No checkpoint '
                      "will be loaded. HINT: Set `ModelCheckpoint(..., save_last=True)`.", UserWarning, stacklevel=4)
        return None
    return os.fspath(max(found, key=lambda p: p.stat().st_mtime))
