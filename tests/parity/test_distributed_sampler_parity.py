"""The DistributedSampler fhooks puts into a loader against the one Lightning 2.5.6 puts in: each rank reads the
same samples in the same order, epoch after epoch (in-process: the samplers take the rank and world size given)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset, WeightedRandomSampler

from fhooks.trainer.strategies.sampler import distributed_loader, set_epoch

pytest.importorskip("lightning")
from lightning.pytorch.trainer.connectors.data_connector import _get_distributed_sampler  # noqa: E402
from lightning.pytorch.trainer.states import RunningStage  # noqa: E402
from lightning.pytorch.utilities.data import _update_dataloader  # noqa: E402

pytestmark = pytest.mark.parity


def lightnings(loader, training, rank):
    """Lightning's loader for ``rank`` of 2: training loaders shuffle, evaluation ones as their loader did."""
    shuffle = True if training else isinstance(loader.sampler, torch.utils.data.RandomSampler)
    mode = RunningStage.TRAINING if training else RunningStage.VALIDATING
    sampler = _get_distributed_sampler(loader, shuffle, overfit_batches=0, mode=mode, num_replicas=2, rank=rank)
    return _update_dataloader(loader, sampler, mode=mode)


def batches(loader, epochs=2):
    seen = []
    for epoch in range(epochs):
        set_epoch(loader, epoch)
        seen.append([b.tolist() for b in loader])
    return seen


@pytest.mark.parametrize("make", [
    lambda: DataLoader(torch.arange(21), batch_size=4),
    lambda: DataLoader(torch.arange(21), batch_size=4, shuffle=True),
    lambda: DataLoader(torch.arange(20), batch_size=3, drop_last=True),
    lambda: DataLoader(torch.arange(12), batch_size=2,
                       sampler=WeightedRandomSampler(torch.ones(12), 12, generator=torch.Generator().manual_seed(3))),
], ids=["sequential", "shuffled", "drop_last", "custom_sampler"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_each_rank_reads_what_it_reads_under_lightning(make, training):
    for rank in (0, 1):
        ours, theirs = distributed_loader(make(), training, 2, rank), lightnings(make(), training, rank)
        assert batches(ours) == batches(theirs)


def test_loaders_that_need_no_sampler_stay_as_they_are():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(4))

    stream = DataLoader(Stream(), batch_size=2)
    assert distributed_loader(stream, True, 2, 0) is stream
    already = DataLoader(torch.arange(4), sampler=torch.utils.data.DistributedSampler(torch.arange(4), 2, 0))
    assert distributed_loader(already, True, 2, 0) is already
