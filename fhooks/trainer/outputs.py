"""What step methods return, turned into what hooks see: losses, step metrics, epoch means.

>>> import torch
>>> loss, values = split_output({"loss": torch.tensor(2.0), "acc": 0.5}, "training_step")
>>> float(loss), sorted(values)
(2.0, ['acc', 'loss'])
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import Any

import torch

from fhooks.errors import InvalidStepOutput


def split_output(output: Any, where: str) -> tuple[torch.Tensor | None, dict[str, Any]]:
    """The loss and the named values of a ``training_step`` result (a tensor, a dict with "loss", or None)."""
    if output is None:
        return None, {}
    if isinstance(output, torch.Tensor):
        if output.numel() != 1:
            raise InvalidStepOutput(f"{where}: returned a tensor of shape {tuple(output.shape)}; the loss must be a scalar")
        return output, {"loss": output}
    if isinstance(output, Mapping):
        loss = output.get("loss")
        if isinstance(loss, torch.Tensor) and loss.numel() == 1:
            return loss, dict(output)
        given = "no 'loss' key" if loss is None else f"'loss' of type {type(loss).__name__}"
        raise InvalidStepOutput(f"{where}: returned a dict with {given} (keys: {', '.join(map(str, output)) or 'none'}); "
                                "return a scalar loss tensor or a dict with a scalar tensor under 'loss'")
    raise InvalidStepOutput(f"{where}: returned {type(output).__name__}; return a scalar loss tensor, "
                            "a dict with a scalar tensor under 'loss', or None to skip the batch")


def eval_values(output: Any, where: str) -> dict[str, Any]:
    """The named scalar values of a ``validation_step``/``test_step`` result (a dict, a scalar, or None)."""
    if output is None:
        return {}
    if isinstance(output, Mapping):
        return {k: v for k, v in output.items() if _is_scalar(v)}
    if _is_scalar(output):
        return {"loss": output}
    raise InvalidStepOutput(f"{where}: returned {type(output).__name__}; return a dict of scalar metrics, a scalar, or None")


def _is_scalar(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.numel() == 1
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return True
    numpy = sys.modules.get("numpy")  # numpy scalars (np.float32(...), a 0-d array) count too
    return numpy is not None and isinstance(value, (numpy.generic, numpy.ndarray)) and value.size == 1 \
        and value.dtype.kind in "iuf"


def check_loss_has_grad(loss: torch.Tensor, where: str) -> None:
    """A clear error for a loss that cannot be backpropagated (instead of autograd's own)."""
    if not loss.requires_grad:
        raise InvalidStepOutput(f"{where}: returned a loss that does not require grad (was it detached, computed "
                                "under torch.no_grad(), or from parameters with requires_grad=False?); return the "
                                "loss tensor itself, or None to skip the batch")


def as_float(value: Any) -> float:
    """A Python float from a scalar tensor, number or numpy scalar."""
    if isinstance(value, torch.Tensor):
        return float(value.detach().item())
    return float(value.item() if hasattr(value, "item") else value)


class LazyMetrics(Mapping):
    """Read-only metrics: a step's raw values over a snapshot of the latest metrics (``base``).

    Tensor values become floats only when a hook reads them, so no device sync happens
    for metrics nobody reads.
    """

    __slots__ = ("_raw", "_base", "_done")

    def __init__(self, raw: Mapping[str, Any], base: Mapping[str, float] | None = None) -> None:
        self._raw = raw
        self._base = dict(base) if base else {}
        self._done: dict[str, float] = {}

    def __getitem__(self, key: str) -> float:
        done = self._done
        if key not in done:
            done[key] = as_float(self._raw[key] if key in self._raw else self._base[key])
        return done[key]

    def __iter__(self) -> Iterator[str]:
        yield from self._raw
        yield from (k for k in self._base if k not in self._raw)

    def __len__(self) -> int:
        return len(self._raw) + sum(1 for k in self._base if k not in self._raw)

    def __repr__(self) -> str:
        return f"LazyMetrics({dict(self)!r})"


class EpochMeans:
    """Values collected over an epoch, averaged once at its end (weighted by batch size when given).

    Tensors are kept as they come (no per-batch host sync) and reduced in stacked sums, every
    :attr:`chunk` values, so memory stays bounded however long the epoch.

    >>> means = EpochMeans()
    >>> means.add({"loss": torch.tensor(1.0)}, 2)
    >>> means.add({"loss": 4.0}, 1)
    >>> means.means()
    {'loss': 2.0}
    """

    chunk = 256

    def __init__(self) -> None:
        self.values: dict[str, list[tuple[Any, int]]] = {}

    def add(self, values: Mapping[str, Any], weight: int = 1) -> None:
        for name, value in values.items():
            if isinstance(value, torch.Tensor) and value.requires_grad:
                value = value.detach()
            items = self.values.get(name)
            if items is None:
                self.values[name] = [(value, weight)]
                continue
            items.append((value, weight))
            if len(items) > self.chunk:
                self.values[name] = [_collapsed(items)]

    def means(self) -> dict[str, float]:
        return {name: _weighted_sum(items) / sum(w for _, w in items) for name, items in self.values.items()}

    def to_plain(self) -> dict[str, list[list[float]]]:
        """The collected values as plain floats, for checkpoints; each name's values collapse into one mean.

        The collapse happens in place too, so each checkpoint converts only what came since the last one.
        """
        for name, items in self.values.items():
            if len(items) > 1 or (items and isinstance(items[0][0], torch.Tensor)):
                value, total = _collapsed(items)
                self.values[name] = [(as_float(value), total)]
        return {k: [[as_float(v), w] for v, w in items] for k, items in self.values.items()}

    @classmethod
    def from_plain(cls, data: Mapping[str, list[list[float]]]) -> EpochMeans:
        means = cls()
        means.values = {k: [(float(v), int(w)) for v, w in items] for k, items in data.items()}
        return means


def _is_scalar_tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and value.dim() == 0


def _stacked_dot(scalars: list[tuple[torch.Tensor, int]]) -> torch.Tensor:
    """``sum(value * weight)`` of scalar tensors as one float64 tensor on their device (no host sync).

    Values are stacked one dtype at a time: a stack of mixed dtypes (the float64 mean of the last
    collapse among float32 losses) takes torch's slow path, several µs per value.
    """
    by_dtype: dict[torch.dtype, list[tuple[torch.Tensor, int]]] = {}
    for value, weight in scalars:
        by_dtype.setdefault(value.dtype, []).append((value, weight))
    total = None
    for group in by_dtype.values():
        values = torch.stack([v for v, _ in group]).double()
        part = values.dot(torch.tensor([w for _, w in group], dtype=torch.float64, device=values.device))
        total = part if total is None else total + part
    return total


def _collapsed(items: list[tuple[Any, int]]) -> tuple[Any, int]:
    """One ``(mean, total weight)`` pair for ``items``; the mean stays a float64 tensor when all are scalar tensors."""
    total = sum(w for _, w in items)
    if all(_is_scalar_tensor(v) for v, _ in items):
        return _stacked_dot(items) / total, total
    return _weighted_sum(items) / total, total


def _weighted_sum(items: list[tuple[Any, int]]) -> float:
    """``sum(value * weight)`` in float64: scalar tensors in one stacked product, other values one by one."""
    scalars = [(v, w) for v, w in items if _is_scalar_tensor(v)]
    total = sum(as_float(v) * w for v, w in items if not _is_scalar_tensor(v))
    return total + float(_stacked_dot(scalars)) if scalars else total


def batch_size(batch: Any) -> int:
    """The number of samples in a batch: the first dimension of its first tensor (1 if none)."""
    if type(batch) in (tuple, list) and batch and type(batch[0]) is torch.Tensor and batch[0].dim():
        return batch[0].shape[0]  # the common (inputs, targets) batch, without the general walk
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() else 1
    if isinstance(batch, Mapping):
        batch = list(batch.values())
    if isinstance(batch, (list, tuple)):
        for item in batch:
            size = batch_size(item)
            if size:
                return size
    return 1


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor in a batch (nested lists, tuples, dicts) to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch
