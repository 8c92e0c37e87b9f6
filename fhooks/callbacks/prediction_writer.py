"""``BasePredictionWriter`` (Lightning's) and ``PredictionWriter``, a ready one that saves predictions to disk.

A writer is a :class:`~fhooks.callbacks.base.Callback`: its methods run with the
live trainer during ``Trainer.predict``.

>>> BasePredictionWriter("epoch").write_interval
'epoch'
>>> BasePredictionWriter("step")
Traceback (most recent call last):
...
fhooks.errors.InvalidArgument: BasePredictionWriter: write_interval='step' is not one of 'batch', 'epoch', 'batch_and_epoch'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fhooks.callbacks.base import Callback
from fhooks.errors import InvalidArgument

WRITE_INTERVALS = ("batch", "epoch", "batch_and_epoch")


def batch_indices(trainer: Any, dataloader_idx: int, batch_idx: int) -> list[int]:
    """The dataset indices of the samples in a predict batch, or ``[]`` when they cannot be known.

    Uses ``trainer.current_batch_indices`` when the trainer tracks them; else, for
    a ``DataLoader`` that reads its dataset in order (``SequentialSampler``, fixed
    ``batch_size``) found in ``trainer.predict_dataloaders``, computes them.
    """
    given = getattr(trainer, "current_batch_indices", None)
    if given is not None:
        return list(given)
    loaders = getattr(trainer, "predict_dataloaders", None) or getattr(trainer, "predict_loaders", None)
    if not loaders or dataloader_idx >= len(loaders):
        return []
    from torch.utils.data import DataLoader, SequentialSampler

    loader = loaders[dataloader_idx]
    if not isinstance(loader, DataLoader) or not isinstance(loader.sampler, SequentialSampler) or not loader.batch_size:
        return []
    size = loader.batch_size
    return list(range(batch_idx * size, min((batch_idx + 1) * size, len(loader.sampler))))


class BasePredictionWriter(Callback):
    """Write predictions as ``Trainer.predict`` makes them: per batch, at the epoch end, or both.

    Subclasses override :meth:`write_on_batch_end` and/or :meth:`write_on_epoch_end`.
    At the epoch end, ``predictions`` is the list of batch outputs (a list per
    dataloader when there are several) and ``batch_indices`` a list per dataloader
    of a list per batch of sample indices (``[]`` where unknown).

    Raises:
        InvalidArgument: ``write_interval`` not ``"batch"``, ``"epoch"`` or ``"batch_and_epoch"``.
    """

    def __init__(self, write_interval: str = "batch") -> None:
        if write_interval not in WRITE_INTERVALS:
            accepted = ", ".join(map(repr, WRITE_INTERVALS))
            raise InvalidArgument(f"{type(self).__name__}: write_interval={write_interval!r} is not one of {accepted}")
        self.write_interval = write_interval
        self._predictions: dict[int, list[Any]] = {}
        self._indices: dict[int, list[list[int]]] = {}

    @property
    def interval(self) -> str:
        """``write_interval`` (Lightning's attribute name)."""
        return self.write_interval

    @property
    def on_batch(self) -> bool:
        return self.write_interval in ("batch", "batch_and_epoch")

    @property
    def on_epoch(self) -> bool:
        return self.write_interval in ("epoch", "batch_and_epoch")

    def write_on_batch_end(self, trainer: Any, pl_module: Any, prediction: Any, batch_indices: list[int] | None,
                           batch: Any, batch_idx: int, dataloader_idx: int) -> None:
        """Write one batch's ``prediction``; override it when ``write_interval`` includes ``"batch"``."""
        raise NotImplementedError(f"{type(self).__name__}: override write_on_batch_end to write per batch")

    def write_on_epoch_end(self, trainer: Any, pl_module: Any, predictions: list[Any],
                           batch_indices: list[Any]) -> None:
        """Write all of the epoch's ``predictions``; override it when ``write_interval`` includes ``"epoch"``."""
        raise NotImplementedError(f"{type(self).__name__}: override write_on_epoch_end to write per epoch")

    def on_predict_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._predictions, self._indices = {}, {}

    def on_predict_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int,
                             dataloader_idx: int = 0) -> None:
        indices = batch_indices(trainer, dataloader_idx, batch_idx)
        if self.on_batch:
            self.write_on_batch_end(trainer, pl_module, outputs, indices, batch, batch_idx, dataloader_idx)
        if self.on_epoch:
            self._predictions.setdefault(dataloader_idx, []).append(outputs)
            self._indices.setdefault(dataloader_idx, []).append(indices)

    def on_predict_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if not self.on_epoch:
            return
        loaders = sorted(self._predictions)
        per_loader = [self._predictions[i] for i in loaders]
        predictions = per_loader[0] if len(per_loader) == 1 else per_loader
        indices = [self._indices[i] for i in loaders]
        self._predictions, self._indices = {}, {}
        self.write_on_epoch_end(trainer, pl_module, predictions, indices)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(write_interval={self.write_interval!r})"


def _to_cpu(value: Any) -> Any:
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_to_cpu(v) for v in value)
    return value


def save_atomic(value: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save(value, path)`` through a temporary file and a rename, so a crash never leaves a torn file."""
    import torch

    from fhooks.trainer.checkpoint import write_atomically

    return write_atomically(path, lambda f: torch.save(value, f))


class PredictionWriter(BasePredictionWriter):
    """Save predictions under ``output_dir`` with ``torch.save``, atomically, moved to the CPU.

    Per batch: ``predictions_<dataloader_idx>_<batch_idx>.pt``. Per epoch:
    ``predictions.pt`` (the list :meth:`write_on_epoch_end` receives) and
    ``batch_indices.pt``. Read them back with ``torch.load(path)``.

    >>> PredictionWriter("preds", write_interval="epoch")
    PredictionWriter('preds', write_interval='epoch')
    """

    def __init__(self, output_dir: str | os.PathLike[str], write_interval: str = "batch") -> None:
        super().__init__(write_interval)
        self.output_dir = Path(output_dir)

    def write_on_batch_end(self, trainer: Any, pl_module: Any, prediction: Any, batch_indices: list[int] | None,
                           batch: Any, batch_idx: int, dataloader_idx: int) -> None:
        save_atomic(_to_cpu(prediction), self.output_dir / f"predictions_{dataloader_idx}_{batch_idx}.pt")

    def write_on_epoch_end(self, trainer: Any, pl_module: Any, predictions: list[Any],
                           batch_indices: list[Any]) -> None:
        save_atomic(_to_cpu(predictions), self.output_dir / "predictions.pt")
        save_atomic(batch_indices, self.output_dir / "batch_indices.pt")

    def __repr__(self) -> str:
        interval = "" if self.write_interval == "batch" else f", write_interval={self.write_interval!r}"
        return f"PredictionWriter({str(self.output_dir)!r}{interval})"
