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
    """Read-only metrics: a step's scalar values over a snapshot of the latest metrics (``base``).

    Tensor values become floats only when a hook reads them, so no device sync happens
    for metrics nobody reads. Values that are not scalars (predictions returned beside
    the loss) are not metrics.

    >>> metrics = LazyMetrics({"loss": torch.tensor(0.5), "preds": torch.zeros(4)}, {"val_loss": 0.7})
    >>> dict(metrics)
    {'loss': 0.5, 'val_loss': 0.7}
    """

    __slots__ = ("_raw", "_base", "_done")

    def __init__(self, raw: Mapping[str, Any], base: Mapping[str, float] | None = None) -> None:
        self._raw = {name: value for name, value in raw.items() if _is_scalar(value)}
        self._base = dict(base) if base else {}
        self._done: dict[str, float] = {}

    def __getitem__(self, key: str) -> float:
        done = self._done
        if key not in done:
            done[key] = as_float(self._value(key))
        return done[key]

    def known(self) -> dict[str, float]:
        """The values known without a read: those hooks have read, and those that are not tensors.

        >>> metrics = LazyMetrics({"loss": torch.tensor(0.5), "acc": torch.tensor(0.75)}, {"lr": 0.1})
        >>> metrics["loss"], metrics.known()
        (0.5, {'loss': 0.5, 'lr': 0.1})
        """
        return {k: self[k] for k in self if k in self._done or not isinstance(self._value(k), torch.Tensor)}

    def _value(self, key: str) -> Any:
        return self._raw[key] if key in self._raw else self._base[key]

    def __iter__(self) -> Iterator[str]:
        yield from self._raw
        yield from (k for k in self._base if k not in self._raw)

    def __len__(self) -> int:
        return len(self._raw) + sum(1 for k in self._base if k not in self._raw)

    def __repr__(self) -> str:
        return f"LazyMetrics({dict(self)!r})"


class EpochMeans:
    """The epoch means of the scalar values a step returns, weighted by batch size when given.

    Each name keeps a running weighted sum (:class:`RunningSum`), so no batch's tensor outlives its step
    (small tensors kept alive among a step's large transient ones made the heap give memory back and take
    it again every step: 25 to 40 page faults a step on a 0.6 ms CPU step), and no accelerator's value is
    read on the host before the epoch ends. Values that are not scalars (predictions returned beside the
    loss) are not averaged.

    >>> means = EpochMeans()
    >>> means.add({"loss": torch.tensor(1.0), "preds": torch.zeros(3)}, 2)
    >>> means.add({"loss": 4.0}, 1)
    >>> means.means()
    {'loss': 2.0}
    """

    def __init__(self) -> None:
        self.sums: dict[str, RunningSum] = {}

    def add(self, values: Mapping[str, Any], weight: int = 1) -> None:
        sums = self.sums
        for name, value in values.items():
            if not _is_scalar(value):
                continue
            found = sums.get(name)
            if found is None:
                found = sums[name] = RunningSum()
            found.add(value, weight)

    def means(self) -> dict[str, float]:
        return {name: total.mean() for name, total in self.sums.items()}

    def to_plain(self) -> dict[str, list[list[float]]]:
        """The collected values as plain floats, for checkpoints: each name's mean and total weight."""
        return {name: [[total.mean(), total.weight]] for name, total in self.sums.items()}

    @classmethod
    def from_plain(cls, data: Mapping[str, list[list[float]]]) -> EpochMeans:
        means = cls()
        for name, items in data.items():
            total = means.sums[name] = RunningSum()
            total.number = sum((float(v) * int(w) for v, w in items), 0.0)
            total.weight = sum(int(w) for _, w in items)
        return means


class RunningSum:
    """A weighted sum of scalars. Numbers and CPU tensors are read as they come (on the CPU a read waits for
    nothing) into a Python float; tensors on an accelerator go into a float64 tensor on their device, updated
    in place, so the host never waits for the device (or, on a device without float64, into the float).

    >>> total = RunningSum()
    >>> total.add(torch.tensor(3.0), 2)
    >>> total.add(1, 4)
    >>> total.mean(), total.weight
    (1.6666666666666667, 6)
    """

    __slots__ = ("number", "tensor", "weight")

    def __init__(self) -> None:
        self.number = 0.0
        self.tensor: Any = None  # the accelerator's sum, made at its first tensor; _NO_DEVICE_SUM where it cannot be
        self.weight = 0

    def add(self, value: Any, weight: int) -> None:
        self.weight += weight
        if isinstance(value, torch.Tensor):
            if value.is_cpu:
                self.number += value.item() * weight  # 2,400 instructions; an in-place add_ costs 16,700
                return
            if self._add_on_device(value, weight):
                return
        self.number += as_float(value) * weight

    def _add_on_device(self, value: torch.Tensor, weight: int) -> bool:
        """Add ``value`` into the device sum; False when it cannot take it (another device, no float64)."""
        if self.tensor is None:
            self.tensor = _device_sum(value)
        if self.tensor is _NO_DEVICE_SUM:
            return False
        try:
            # detached, else the in-place sum would join the step's graph and keep every step's alive
            self.tensor.add_(value.detach().reshape(()), alpha=weight)
        except RuntimeError:  # on another device than the sum
            return False
        return True

    def mean(self) -> float:
        total = self.number if self.tensor is None or self.tensor is _NO_DEVICE_SUM else float(self.tensor) + self.number
        return total / self.weight


_NO_DEVICE_SUM = object()


def _device_sum(value: torch.Tensor) -> Any:
    """A float64 zero on ``value``'s device; :data:`_NO_DEVICE_SUM` on a device without float64 (MPS)."""
    try:
        return torch.zeros((), dtype=torch.float64, device=value.device)
    except (TypeError, RuntimeError):
        return _NO_DEVICE_SUM


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
