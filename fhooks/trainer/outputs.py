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

    Tensors are kept as they come (no per-batch host sync), grouped by name and weight; every
    :attr:`chunk` calls of :meth:`add` each group is stacked and summed into a float64 running sum
    (on its device), so memory stays bounded however long the epoch and each step only appends.

    >>> means = EpochMeans()
    >>> means.add({"loss": torch.tensor(1.0)}, 2)
    >>> means.add({"loss": 4.0}, 1)
    >>> means.means()
    {'loss': 2.0}
    """

    chunk = 32

    def __init__(self) -> None:
        self.pending: dict[tuple[str, int], list[Any]] = {}  # per (name, weight): the values not yet summed
        self.added = 0  # add() calls since the pending values were last summed
        self.sums: dict[str, tuple[Any, int]] = {}  # per name: the weighted sum so far and its total weight

    def add(self, values: Mapping[str, Any], weight: int = 1) -> None:
        pending = self.pending
        for name, value in values.items():
            if isinstance(value, torch.Tensor) and value.requires_grad:
                value = value.detach()
            found = pending.get((name, weight))
            if found is None:
                pending[name, weight] = [value]
            else:
                found.append(value)
        self.added += 1
        if self.added == self.chunk:
            self._sum_pending()

    def _sum_pending(self) -> None:
        """Fold the pending values into the running sums."""
        sums = self.sums
        for (name, weight), values in self.pending.items():
            total, total_weight = sums.get(name, (0.0, 0))
            sums[name] = (total + _weighted_sum(values, weight), total_weight + weight * len(values))
        self.pending, self.added = {}, 0

    def means(self) -> dict[str, float]:
        self._sum_pending()
        return {name: float(total) / weight for name, (total, weight) in self.sums.items()}

    def to_plain(self) -> dict[str, list[list[float]]]:
        """The collected values as plain floats, for checkpoints: each name's mean and total weight."""
        return {name: [[mean, self.sums[name][1]]] for name, mean in self.means().items()}

    @classmethod
    def from_plain(cls, data: Mapping[str, list[list[float]]]) -> EpochMeans:
        means = cls()
        for name, items in data.items():
            means.sums[name] = (sum((float(v) * int(w) for v, w in items), 0.0), sum(int(w) for _, w in items))
        return means


def _weighted_sum(values: list[Any], weight: int) -> Any:
    """``sum(values) * weight`` in float64: scalar tensors stacked and summed on their device (no host sync, no copy
    to the device); anything else (numbers, numpy scalars, tensors of mixed devices) one by one, as floats."""
    try:
        return torch.stack(values).reshape(-1).double().sum() * weight
    except (TypeError, RuntimeError):  # not all scalar tensors on one device
        return sum((as_float(v) for v in values), 0.0) * weight


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
