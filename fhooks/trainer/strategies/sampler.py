"""Each rank's share of a loader: a ``DistributedSampler`` put in, as Lightning 2.5 puts it.

Training loaders get a shuffling sampler (seed 0, ``PL_GLOBAL_SEED`` when set) whether or not the loader shuffled;
evaluation loaders shuffle only when their loader did. A loader over a ``RandomSampler``/``SequentialSampler`` gets
``DistributedSampler(dataset)``; one over another sampler gets the share of that sampler's indices. Loaders that
already have a ``DistributedSampler``, iterable datasets, and objects that are not ``DataLoader`` stay as they are.

>>> import torch
>>> loader = torch.utils.data.DataLoader(list(range(8)), batch_size=2)
>>> shared = distributed_loader(loader, training=False, num_replicas=2, rank=1)
>>> [b.tolist() for b in shared]
[[1, 3], [5, 7]]
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, DistributedSampler, IterableDataset, RandomSampler, SequentialSampler

#: The DataLoader arguments carried over to the rebuilt loader.
_KEPT = ("batch_size", "num_workers", "collate_fn", "pin_memory", "drop_last", "timeout", "worker_init_fn",
         "multiprocessing_context", "generator", "prefetch_factor", "persistent_workers", "pin_memory_device")


class _Indices(torch.utils.data.Dataset):
    """A sampler's indices as a dataset, drawn afresh each epoch, so a DistributedSampler can share them out."""

    def __init__(self, sampler: Any) -> None:
        self.sampler = sampler
        self.drawn: list[Any] | None = None

    def draw(self) -> None:
        self.drawn = list(self.sampler)

    def __getitem__(self, index: int) -> Any:
        if self.drawn is None:
            self.draw()
        return self.drawn[index]  # type: ignore[index]

    def __len__(self) -> int:
        return len(self.sampler)


class SamplerShare(DistributedSampler):
    """This rank's share of the indices another sampler draws (each epoch anew)."""

    def __init__(self, sampler: Any, **kwargs: Any) -> None:
        super().__init__(_Indices(sampler), **kwargs)

    def __iter__(self) -> Iterator[Any]:
        indices: _Indices = self.dataset  # type: ignore[assignment]
        indices.draw()
        return (indices[i] for i in super().__iter__())


def _is_shuffled(loader: DataLoader) -> bool:
    return isinstance(loader.sampler, RandomSampler)


def needs_sampler(loader: Any) -> bool:
    """Whether a distributed sampler goes into ``loader``."""
    return (isinstance(loader, DataLoader) and not isinstance(loader.dataset, IterableDataset)
            and not isinstance(loader.sampler, DistributedSampler) and loader.batch_size is not None)


def distributed_loader(loader: Any, training: bool, num_replicas: int, rank: int) -> Any:
    """``loader`` rebuilt to read rank ``rank``'s share of its samples (unchanged when it needs no sampler)."""
    if not needs_sampler(loader):
        return loader
    options = {"num_replicas": num_replicas, "rank": rank, "shuffle": training or _is_shuffled(loader),
               "seed": int(os.environ.get("PL_GLOBAL_SEED", "0"))}
    if isinstance(loader.sampler, (RandomSampler, SequentialSampler)):
        sampler: Any = DistributedSampler(loader.dataset, **options)
    else:
        sampler = SamplerShare(loader.sampler, **options)
    kept = {name: getattr(loader, name) for name in _KEPT if hasattr(loader, name)}
    if kept.get("num_workers", 0) == 0:
        kept.pop("prefetch_factor", None)
        kept["persistent_workers"] = False
    return DataLoader(loader.dataset, sampler=sampler, **kept)


def set_epoch(loader: Any, epoch: int) -> None:
    """Tell the loader's samplers the epoch (each shuffles with ``seed + epoch``), as Lightning does every epoch."""
    for sampler in (getattr(loader, "sampler", None), getattr(getattr(loader, "batch_sampler", None), "sampler", None)):
        if callable(getattr(sampler, "set_epoch", None)):
            sampler.set_epoch(epoch)
