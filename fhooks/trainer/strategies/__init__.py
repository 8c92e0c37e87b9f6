"""Where the trainer runs: one device, or data-parallel over processes (``Trainer(strategy=..., devices=...,
num_nodes=...)``); see ``docs/distributed.md``.

>>> from types import SimpleNamespace
>>> trainer = SimpleNamespace()
>>> configure(trainer, "cpu", "auto", "auto", 1, False, True)
>>> trainer.strategy, trainer.world_size, trainer.num_devices, trainer.device_ids
(SingleDeviceStrategy(), 1, 1, [0])
>>> configure(trainer, "cpu", 4, "auto", 1, False, True)
>>> trainer.strategy.strategy_name, trainer.world_size
('ddp', 4)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from fhooks.errors import InvalidArgument
from fhooks.trainer.strategies.ddp import DDPStrategy
from fhooks.trainer.strategies.environment import detect, local_world_size
from fhooks.trainer.strategies.single import SingleDeviceStrategy

__all__ = ["DDPStrategy", "SingleDeviceStrategy", "agree_on_stop", "between_barriers", "configure", "sync_value"]

_NAMES = ("auto", "ddp", "ddp_spawn", "single_device")


def _device_ids(accelerator: str, devices: Any) -> list[int]:
    """This node's devices as indices: ``devices`` as an int count, a list of CUDA indices, ``"auto"``."""
    if isinstance(devices, str) and devices.strip().lstrip("-").isdigit():
        devices = int(devices)
    if devices == "auto":
        found = local_world_size() if detect() is not None else None
        if found is not None:
            return list(range(found))
        return list(range(max(1, torch.cuda.device_count()))) if accelerator == "cuda" else [0]
    if isinstance(devices, int) and not isinstance(devices, bool):
        if devices == -1 and accelerator == "cuda":
            return list(range(torch.cuda.device_count()))
        if devices >= 1:
            if accelerator == "cuda" and devices > torch.cuda.device_count():
                raise InvalidArgument(f"Trainer: devices={devices} but {torch.cuda.device_count()} CUDA devices "
                                      "are visible")
            return list(range(devices))
    if isinstance(devices, (list, tuple)) and devices and accelerator == "cuda" and all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d < torch.cuda.device_count() for d in devices):
        return list(devices)
    accepted = "an int >= 1, -1 (all), a list of CUDA indices" if accelerator == "cuda" else "an int >= 1"
    raise InvalidArgument(f"Trainer: devices={devices!r} with accelerator={accelerator!r}; accepted: {accepted}, "
                          "or 'auto'")


def _strategy(strategy: Any, world_size: int) -> Any:
    if isinstance(strategy, (DDPStrategy, SingleDeviceStrategy)):
        return strategy
    if strategy not in _NAMES:
        raise InvalidArgument(f"Trainer: strategy={strategy!r}; accepted: 'auto', 'ddp', 'ddp_spawn', "
                              "'single_device', or a DDPStrategy(...)")
    if strategy == "single_device":
        if world_size > 1:
            raise InvalidArgument(f"Trainer: strategy='single_device' runs one process, but devices x num_nodes = "
                                  f"{world_size}; pass strategy='ddp' or devices=1")
        return SingleDeviceStrategy()
    if strategy == "auto" and world_size == 1 and detect() is None:
        return SingleDeviceStrategy()
    return DDPStrategy(start_method="spawn" if strategy == "ddp_spawn" else "script")


def configure(trainer: Any, accelerator: str, devices: Any, strategy: Any, num_nodes: Any, sync_batchnorm: Any,
              use_distributed_sampler: Any) -> None:
    """Check the distribution arguments and set the trainer's attributes (Lightning's names): ``strategy``,
    ``num_devices``, ``num_nodes``, ``device_ids``, ``global_rank``, ``local_rank``, ``node_rank``, ``world_size``,
    ``sync_batchnorm``, ``use_distributed_sampler``."""
    if isinstance(num_nodes, bool) or not isinstance(num_nodes, int) or num_nodes < 1:
        raise InvalidArgument(f"Trainer: num_nodes={num_nodes!r} must be an int >= 1")
    for name, value in (("sync_batchnorm", sync_batchnorm), ("use_distributed_sampler", use_distributed_sampler)):
        if not isinstance(value, bool):
            raise InvalidArgument(f"Trainer: {name}={value!r} must be True or False")
    kind = "cuda" if accelerator in ("cuda", "gpu") else accelerator
    if kind == "auto":
        kind = "cuda" if torch.cuda.is_available() else "cpu"
    ids = _device_ids(kind, devices)
    chosen = _strategy(strategy, len(ids) * num_nodes)
    if isinstance(chosen, DDPStrategy):
        chosen.configure(kind, ids, num_nodes, sync_batchnorm, use_distributed_sampler)
    trainer.strategy = chosen
    trainer.num_devices, trainer.num_nodes, trainer.device_ids = len(ids), num_nodes, ids
    trainer.sync_batchnorm, trainer.use_distributed_sampler = sync_batchnorm, use_distributed_sampler
    trainer.global_rank, trainer.local_rank, trainer.node_rank = chosen.global_rank, chosen.local_rank, chosen.node_rank
    trainer.world_size = chosen.world_size
    if kind == "cuda":
        trainer.device = torch.device("cuda", ids[chosen.local_rank])


def agree_on_stop(trainer: Any) -> None:
    """Any rank asked to stop -> every rank stops here (one all-reduce; nothing with one process)."""
    if trainer.world_size > 1 and trainer.strategy.reduce_any(trainer.should_stop) and not trainer.should_stop:
        trainer.request_stop("another rank asked to stop")


def sync_value(value: torch.Tensor, reduce: str, count: bool = False) -> torch.Tensor:
    """``self.log(..., sync_dist=True)``: ``value`` reduced across the ranks of the process group (as it is without
    one): ``"mean"`` averages (sums when ``count``: totals and their weights), ``"sum"``/``"max"``/``"min"`` as named.

    >>> sync_value(torch.tensor(2.0), "mean")
    tensor(2.)
    """
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_initialized() or dist.get_world_size() == 1:
        return value
    out = value.detach().clone()
    op = {"max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}.get(reduce, dist.ReduceOp.SUM)
    on = "cuda" if dist.get_backend() == "nccl" else "cpu"
    moved = out.to(on)
    dist.all_reduce(moved, op=op)
    out = moved.to(value.device)
    return out / dist.get_world_size() if reduce == "mean" and not count else out


@contextlib.contextmanager
def between_barriers(trainer: Any) -> Iterator[None]:
    """Every rank waits for the others before and after (rank zero writes a checkpoint in between)."""
    trainer.strategy.barrier()
    yield
    trainer.strategy.barrier()
