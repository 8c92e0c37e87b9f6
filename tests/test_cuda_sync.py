"""On CUDA the training step makes no host-device synchronisation in the default configuration.

The module turns ``torch.cuda.set_sync_debug_mode`` on at the start of its second batch and off
at the end of its last batch (the module's ``on_train_batch_end`` runs after the hooks there), so
everything the loop and the default hooks do for the batches in between, including each batch's
end, runs under it; the epoch end, which reduces the epoch's means once (a sync per epoch, not per
step), comes after. Skipped without a CUDA device.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from fhooks import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

STEPS = 40


class Watched(torch.nn.Module):
    """A tiny regression model that watches its own batches 1 .. STEPS-1 under ``mode``."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.net = torch.nn.Linear(8, 1)
        self.mode = mode

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)

    def on_train_batch_start(self, batch, batch_idx):
        if batch_idx == 1:
            torch.cuda.synchronize()  # nothing pending from the first step
            torch.cuda.set_sync_debug_mode(self.mode)

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if batch_idx == STEPS - 1:
            torch.cuda.set_sync_debug_mode("default")


def batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(16, 8, generator=g), torch.randn(16, 1, generator=g)) for _ in range(STEPS)]


def fit(tmp_path, monkeypatch, mode: str, **options) -> None:
    monkeypatch.chdir(tmp_path)
    trainer = Trainer(max_epochs=1, accelerator="cuda", devices=1, num_sanity_val_steps=0, **options)
    try:
        trainer.fit(Watched(mode), batches())
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_no_sync_in_the_steps_without_a_bar(tmp_path, monkeypatch):
    fit(tmp_path, monkeypatch, "error", enable_progress_bar=False)  # any synchronising call raises


def test_default_configuration_syncs_less_than_once_per_step(tmp_path, monkeypatch):
    """The default bar reads the step's loss only when it redraws (at most every 0.1 s), not at every step."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(tmp_path, monkeypatch, "warn")
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    assert len(syncs) < (STEPS - 1) // 2, [str(w.message) for w in syncs[:3]]
