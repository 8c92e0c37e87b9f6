"""The training steps read no tensor's value on the host in the default configuration: checked on CPU.

On CUDA, reading a tensor's value (``item()``, ``float(t)``, ``bool(t)``, ``tolist()``...) waits for the
device: a host-device synchronisation. ``tests/test_cuda_sync.py`` checks the steps with CUDA's own
detector, which needs a GPU; this file checks the same window on any machine by counting those reads
while a module's batches 1 .. STEPS-1 run (the module turns the count on at the start of its second
batch and off at the end of its last, after the hooks). The epoch end reads the epoch's means once, after
the window.
"""

from __future__ import annotations

import traceback

import pytest
import torch

from fhooks import LightningModule, Trainer

STEPS = 40
READS = ("item", "tolist", "numpy", "__float__", "__int__", "__index__", "__bool__", "__format__")


@pytest.fixture
def reads(monkeypatch):
    """Tensor value reads while ``reads["on"]``: a list of (batch index, where) per read."""
    seen = {"on": False, "batch": None, "where": []}
    for name in READS:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            if seen["on"]:
                seen["where"].append((seen["batch"], _name, "".join(traceback.format_stack(limit=6)[:-1])))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return seen


def batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(16, 8, generator=g), torch.randn(16, 1, generator=g)) for _ in range(STEPS)]


def watch(seen, batch_idx: int) -> None:
    seen["batch"] = batch_idx
    if batch_idx == 1:
        seen["on"] = True


class Watching:
    """A linear model that counts in its window: from the start of batch 1 to the end of the last batch (after
    the hooks)."""

    def __init__(self, seen) -> None:
        super().__init__()
        self.net = torch.nn.Linear(8, 1)
        self.seen = seen

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)

    def on_train_batch_start(self, batch, batch_idx):
        watch(self.seen, batch_idx)

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if batch_idx == STEPS - 1:
            self.seen["on"] = False


class Plain(Watching, torch.nn.Module):
    """A plain module: the loss returned, averaged by the trainer into the epoch's metrics."""

    def training_step(self, batch, batch_idx):
        x, y = batch
        return {"loss": torch.nn.functional.mse_loss(self.net(x), y), "preds": self.net(x).detach()}


class Logging(Watching, LightningModule):
    """A module written for Lightning: ``self.log`` at each step, on the step and the epoch, shown in the bar."""

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        self.log("mae", (self.net(x) - y).abs().mean(), on_epoch=True)
        return loss


def described(where) -> str:
    return "\n".join(f"batch {batch}, {name}:\n{stack}" for batch, name, stack in where[:2])


@pytest.mark.parametrize("module", [Plain, Logging])
def test_no_value_read_in_the_steps_without_a_bar(reads, module, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    trainer = Trainer(max_epochs=1, num_sanity_val_steps=0, enable_progress_bar=False)
    trainer.fit(module(reads), batches())
    assert trainer.global_step == STEPS and reads["batch"] == STEPS - 1  # the window ran
    assert reads["where"] == [], described(reads["where"])


@pytest.mark.parametrize("module", [Plain, Logging])
def test_the_default_bar_reads_less_than_once_per_step(reads, module, tmp_path, monkeypatch):
    """The bar reads the step's values only when it redraws (at most every 0.1 s), not at every step."""
    monkeypatch.chdir(tmp_path)
    trainer = Trainer(max_epochs=1, num_sanity_val_steps=0)
    trainer.fit(module(reads), batches())
    read_in = {batch for batch, _, _ in reads["where"]}
    assert len(read_in) < (STEPS - 1) // 2, described(reads["where"])
