"""One process, one device: what every strategy call means when there is nobody to agree with.

>>> strategy = SingleDeviceStrategy()
>>> strategy.world_size, strategy.reduce_any(True), strategy.broadcast("x")
(1, True, 'x')
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


class SingleDeviceStrategy:
    """The strategy of a one-process run (Lightning's ``SingleDeviceStrategy``): no process group, no wrapper."""

    strategy_name = "single_device"
    global_rank = local_rank = node_rank = 0
    world_size = 1
    spawning = False

    def __repr__(self) -> str:
        return "SingleDeviceStrategy()"

    @contextlib.contextmanager
    def world(self, trainer: Any) -> Iterator[None]:
        """The length of one run (fit, validate, test, predict); nothing to set up alone."""
        yield

    def setup_module(self, trainer: Any, module: Any) -> None:
        """Prepare ``module`` for training (already on the trainer's device)."""

    def training_step(self, module: Any, batch: Any, batch_idx: int) -> Any:
        """Run ``training_step``, through the data-parallel wrapper when there is one."""
        return module.training_step(batch, batch_idx)

    def prepare_loader(self, loader: Any, training: bool) -> Any:
        """The loader as this process should read it (unchanged alone)."""
        return loader

    def set_epoch(self, loader: Any, epoch: int) -> None:
        """Tell the loader's samplers the epoch, as Lightning does every epoch on one device too."""
        from fhooks.trainer.strategies.sampler import set_epoch

        set_epoch(loader, epoch)

    def reduce_any(self, flag: bool) -> bool:
        """Whether ``flag`` holds on any rank."""
        return flag

    def reduce(self, value: Any, op: str) -> Any:
        """``value`` reduced across ranks with ``op`` (``"sum"``, ``"max"``, ``"min"``)."""
        return value

    def broadcast(self, obj: Any) -> Any:
        """Rank zero's ``obj`` on every rank."""
        return obj

    def barrier(self) -> None:
        """Wait until every rank gets here."""
