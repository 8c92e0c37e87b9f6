"""Where the trainer calls its loggers, as Lightning's trainer does; any Lightning logger works unchanged.

- :func:`start_run`: once per fit, ``log_hyperparams`` (only when the module saved hyperparameters for the logger),
  ``log_graph(module)``, then ``save()``, for every logger.
- :func:`after_checkpoint`: after a checkpoint is written, ``after_save_checkpoint`` with the
  run's ``ModelCheckpoint`` (what ``MLFlowLogger(log_model=True)`` or W&B read), on rank zero.
- :func:`checkpoint_folder`: where checkpoints go, ``save_dir/name/version/checkpoints`` of the
  first logger, as Lightning.

>>> import os
>>> from fhooks.loggers import CSVLogger
>>> os.path.relpath(checkpoint_folder([CSVLogger("logs", name="exp", version=3)], "root"))
'logs/exp/version_3/checkpoints'
>>> os.path.relpath(checkpoint_folder([], "root"))
'root/checkpoints'
"""

from __future__ import annotations

import os
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fhooks.errors import MisconfigurationError


def hyperparameters(module: Any, datamodule: Any = None) -> dict[str, Any] | None:
    """What ``log_hyperparams`` gets for a fit, or None when it is not to be called.

    As Lightning's trainer: a Lightning-style module's ``hparams_initial`` once it called
    ``save_hyperparameters()`` (not with ``logger=False``), merged with the data module's on the
    same rule; None when neither saved any. A plain module counts when its ``hparams`` is not empty.

    >>> import types
    >>> hyperparameters(types.SimpleNamespace(hparams={"lr": 0.1})), hyperparameters(types.SimpleNamespace())
    ({'lr': 0.1}, None)
    >>> print(hyperparameters(types.SimpleNamespace(_log_hyperparams=False, hparams_initial={"lr": 0.1})))
    None

    Raises:
        MisconfigurationError: the module and the data module give one key different values.
    """
    own = _hparams(module)
    from_data = _hparams(datamodule) if datamodule is not None else None
    if own is not None and from_data is not None:
        clash = sorted(k for k in own.keys() & from_data.keys() if k != "_class_path" and not _same(own[k], from_data[k]))
        if clash:
            raise MisconfigurationError(f"Trainer.fit: hyperparameters {clash} differ between the module and the "
                                        "datamodule; give them one value")
        own = {**own, **from_data}
    found = own if own is not None else from_data
    return None if found is None else {k: v for k, v in found.items() if k != "_class_path"}


def _hparams(obj: Any) -> dict[str, Any] | None:
    if hasattr(obj, "_log_hyperparams"):
        return dict(obj.hparams_initial) if obj._log_hyperparams else None
    found = getattr(obj, "hparams", None)
    if isinstance(found, Namespace):
        found = vars(found)
    return dict(found) if isinstance(found, Mapping) and found else None


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and (a is b or (not hasattr(a, "shape") and a == b))


def start_run(loggers: list[Any], module: Any, datamodule: Any = None) -> None:
    """Lightning's calls at the start of a fit: hyperparameters (when saved), the graph, ``save``."""
    if not loggers:
        return
    params = hyperparameters(module, datamodule)
    for logger in loggers:
        if params is not None:
            _maybe(logger, "log_hyperparams", params)
        _maybe(logger, "log_graph", module)
        _maybe(logger, "save")


def _maybe(logger: Any, method: str, *args: Any) -> None:
    """``logger.method(*args)`` when the logger has it (a minimal logger needs only ``log_metrics``)."""
    fn = getattr(logger, method, None)
    if fn is not None:
        fn(*args)


def checkpoint_callback(callbacks: list[Any]) -> Any:
    """The first ``ModelCheckpoint`` class instance among ``callbacks`` (Lightning's ``trainer.checkpoint_callback``)."""
    from fhooks.callbacks.model_checkpoint import ModelCheckpoint

    return next((cb for cb in callbacks if isinstance(cb, ModelCheckpoint)), None)


def after_checkpoint(trainer: Any) -> None:
    """Tell every logger a checkpoint was saved, with the run's ``ModelCheckpoint`` (rank zero; none: no call)."""
    callback = checkpoint_callback(trainer.callbacks)
    if callback is None or getattr(trainer, "global_rank", 0) != 0:
        return
    for logger in trainer.loggers:
        _maybe(logger, "after_save_checkpoint", callback)


def checkpoint_folder(loggers: list[Any], default_root_dir: str | os.PathLike[str]) -> Path:
    """``save_dir/name/version/checkpoints`` of the first logger (its ``save_dir`` or ``default_root_dir``),
    ``default_root_dir/checkpoints`` without a logger: where Lightning's ``ModelCheckpoint`` saves.

    The path is resolved against the working directory of the moment, so a relative folder is never joined twice.
    """
    logger = loggers[0] if loggers else None
    if logger is None or not hasattr(logger, "version"):  # a minimal logger (only log_metrics) names no run folder
        return Path(os.path.realpath(Path(default_root_dir) / "checkpoints"))
    save_dir = getattr(logger, "save_dir", None) or default_root_dir
    version = logger.version if isinstance(logger.version, str) else f"version_{logger.version}"
    return Path(os.path.realpath(Path(save_dir) / str(getattr(logger, "name", "")) / version / "checkpoints"))
