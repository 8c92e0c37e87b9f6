"""What step methods return, turned into what hooks see: losses, step metrics, epoch means.

>>> import torch
>>> loss, values = split_output({"loss": torch.tensor(2.0), "acc": 0.5}, "training_step")
>>> float(loss), sorted(values)
(2.0, ['acc', 'loss'])
"""

from __future__ import annotations

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
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def as_float(value: Any) -> float:
    """A Python float from a scalar tensor or number."""
    return float(value.detach().item()) if isinstance(value, torch.Tensor) else float(value)


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
            done[key] = as_float(self._raw[key]) if key in self._raw else self._base[key]
        return done[key]

    def __iter__(self) -> Iterator[str]:
        yield from self._raw
        yield from (k for k in self._base if k not in self._raw)

    def __len__(self) -> int:
        return len(self._raw) + sum(1 for k in self._base if k not in self._raw)

    def __repr__(self) -> str:
        return f"LazyMetrics({dict(self)!r})"


class EpochMeans:
    """Values collected over an epoch, averaged once at its end (weighted by batch size when given)."""

    def __init__(self) -> None:
        self.values: dict[str, list[tuple[Any, int]]] = {}

    def add(self, values: Mapping[str, Any], weight: int = 1) -> None:
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                value = value.detach()
            self.values.setdefault(name, []).append((value, weight))

    def means(self) -> dict[str, float]:
        out = {}
        for name, items in self.values.items():
            total = sum(w for _, w in items)
            if all(isinstance(v, torch.Tensor) for v, _ in items):
                stacked = torch.stack([v.float().reshape(()) * w for v, w in items])
                out[name] = float(stacked.sum().item()) / total
            else:
                out[name] = sum(as_float(v) * w for v, w in items) / total
        return out

    def to_plain(self) -> dict[str, list[list[float]]]:
        """The collected values as plain floats, for checkpoints."""
        return {k: [[as_float(v), w] for v, w in items] for k, items in self.values.items()}

    @classmethod
    def from_plain(cls, data: Mapping[str, list[list[float]]]) -> EpochMeans:
        means = cls()
        means.values = {k: [(float(v), int(w)) for v, w in items] for k, items in data.items()}
        return means


def batch_size(batch: Any) -> int:
    """The number of samples in a batch: the first dimension of its first tensor (1 if none)."""
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
