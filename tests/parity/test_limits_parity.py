"""A fractional batch limit that leaves no batch is refused before the first step, as by Lightning 2.5.6."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

import fhooks

L = pytest.importorskip("lightning")
pytestmark = pytest.mark.parity


class Stream(IterableDataset):
    def __iter__(self):
        for _ in range(4):
            yield torch.ones(2, 1)


class Counting(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.steps = 0

    def training_step(self, batch, batch_idx):
        self.steps += 1
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        return self.layer(x).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


class LightningCounting(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.inner = Counting()

    def training_step(self, batch, batch_idx):
        return self.inner.training_step(batch, batch_idx)

    def configure_optimizers(self):
        return self.inner.configure_optimizers()


def eight_batches():
    return DataLoader(TensorDataset(torch.ones(16, 1)), batch_size=2)


def outcome(trainer_cls, module, inner, loader, limit):
    """(refused?, steps taken) under ``limit_train_batches=limit``."""
    trainer = trainer_cls(max_epochs=1, limit_train_batches=limit, logger=False, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    try:
        trainer.fit(module, loader)
    except Exception:  # noqa: BLE001 - which exception type each raises differs; refusing is what must agree
        return True, inner.steps
    return False, inner.steps


@pytest.mark.parametrize("loader, limit", [(eight_batches, 0.01), (eight_batches, 0.125),
                                           (lambda: DataLoader(Stream(), batch_size=None), 0.5),
                                           (lambda: DataLoader(Stream(), batch_size=None), 2)])
def test_refused_or_run_as_lightning(loader, limit, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lightning = LightningCounting()
        theirs = outcome(L.Trainer, lightning, lightning.inner, loader(), limit)
    ours_module = Counting()
    assert outcome(fhooks.Trainer, ours_module, ours_module, loader(), limit) == theirs
