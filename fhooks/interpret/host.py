"""The host protocol: the few operations effect handlers need from whatever loop runs the hooks.

A *host* emits events and carries out effects. ``fhooks.Trainer`` is one;
``fhooks.attach`` (a hand-written loop), ``fhooks.lightning.as_callback``
(Lightning's Trainer) and ``fhooks.ignite.attach`` (an Ignite engine) are others.
Every handler in :mod:`fhooks.interpret` reads and acts only through these names.

>>> sorted(Host.__annotations__)
['accumulate_grad_batches', 'extra_state', 'global_rank', 'lr_scheduler_configs', 'module', 'optimizers', 'world_size']
>>> sorted(name for name in vars(Host) if not name.startswith("_"))
['checkpoint_dir', 'link_checkpoint', 'log_metrics', 'remove_checkpoint', 'request_stop', 'save_checkpoint']
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Host(Protocol):
    """What a loop offers effect handlers.

    Attributes:
        module: the model (a ``torch.nn.Module``), or None when the host was given none.
        optimizers: the live optimizers, in order.
        lr_scheduler_configs: objects with a ``.scheduler`` (and ``interval``); may be empty.
        extra_state: per-run data handlers keep (SWA averages, pruning masks); goes into checkpoints.
        accumulate_grad_batches: how many batches the loop accumulates gradients over.
        global_rank, world_size: the process's place in a distributed run (0 and 1 alone).
    """

    module: Any
    optimizers: list[Any]
    lr_scheduler_configs: list[Any]
    extra_state: dict[str, Any]
    accumulate_grad_batches: int
    global_rank: int
    world_size: int

    @property
    def checkpoint_dir(self) -> Path:
        """Where relative checkpoint paths of effects go."""

    def request_stop(self, reason: str) -> None:
        """Stop the run at the host's next stopping point, for ``reason``."""

    def save_checkpoint(self, path: str | os.PathLike[str], weights_only: bool = False) -> Any:
        """Write a checkpoint to ``path`` (relative: in :attr:`checkpoint_dir`), atomically, once per run."""

    def remove_checkpoint(self, path: str | os.PathLike[str], even_if_resumed: bool = False) -> None:
        """Delete a checkpoint file this run wrote (the one it resumed from too, when ``even_if_resumed``)."""

    def link_checkpoint(self, path: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        """Make ``path`` point at the checkpoint ``target`` (``last.ckpt`` under ``save_last="link"``)."""

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Send metrics to the host's loggers (the current step when ``step`` is None)."""
