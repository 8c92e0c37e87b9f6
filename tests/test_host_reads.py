"""The training steps read no tensor's value on the host in the default configuration: checked on CPU.

On CUDA, reading a tensor's value (``item()``, ``float(t)``, ``bool(t)``, ``tolist()``...) waits for the
device: a host-device synchronisation. ``tests/test_cuda_sync.py`` checks the steps with CUDA's own
detector, which needs a GPU; this file checks the same window on any machine by counting those reads
while a module's batches 1 .. STEPS-1 run (the module turns the count on at the start of its second
batch and off at the end of its last, after the hooks). The epoch end reads the epoch's means once, after
the window.

The configurations Lightning users run are checked too, each against what Lightning 2.5.6 reads in the
same window (measured with this counter around ``lightning.Trainer``): none at all in most; the logged
values at the logging steps (``log_every_n_steps``); the metrics at a checkpoint step. (Lightning also
reads the values logged with ``prog_bar=True`` at every step, bar or no bar; fhooks reads them when its bar
draws.)

One read is left out of the count: the epoch means' (``RunningSum.add``) of a tensor that is on the CPU,
where a read waits for nothing; an accelerator's values are added on their device instead
(``test_an_accelerator_value_is_summed_on_its_device`` below checks that branch reads nothing).
"""

from __future__ import annotations

import importlib.util
import sys
import traceback

import pytest
import torch

from fhooks import LightningModule, Trainer
from fhooks.callbacks import DeviceStatsMonitor, EarlyStopping, LearningRateMonitor, ModelCheckpoint
from fhooks.trainer.outputs import RunningSum

STEPS = 40
READS = ("item", "tolist", "numpy", "__float__", "__int__", "__index__", "__bool__", "__format__")


@pytest.fixture
def reads(monkeypatch):
    """Tensor value reads while ``reads["on"]``: a list of (batch index, where) per read."""
    seen = {"on": False, "batch": None, "where": []}
    for name in READS:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            if seen["on"] and sys._getframe(1).f_code is not RunningSum.add.__code__:
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


class Scheduled(Logging):
    """A learning rate scheduler stepped at every optimizer step."""

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.01)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


class Manual(Logging):
    """Manual optimization: the step zeroes, backpropagates and steps the optimizer itself."""

    def __init__(self, seen) -> None:
        super().__init__(seen)
        self.automatic_optimization = False

    def training_step(self, batch, batch_idx):
        loss = super().training_step(batch, batch_idx)
        optimizer = self.optimizers()
        optimizer.zero_grad()
        self.manual_backward(loss)
        optimizer.step()


class LoggedDict(Logging):
    """``self.log_dict`` of the loss and the error, on the step and the epoch."""

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log_dict({"train_loss": loss, "mae": (self.net(x) - y).abs().mean()}, on_step=True, on_epoch=True)
        return loss


class SyncDist(Logging):
    """``self.log(..., sync_dist=True)`` in a single process."""

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True, sync_dist=True)
        return loss


class MetricLogged(Logging):
    """A torchmetrics ``Metric`` updated by the step and logged as the object, on the step and the epoch."""

    def __init__(self, seen) -> None:
        super().__init__(seen)
        import torchmetrics

        self.mse = torchmetrics.MeanSquaredError()

    def training_step(self, batch, batch_idx):
        x, y = batch
        prediction = self.net(x)
        self.mse(prediction, y)
        self.log("mse", self.mse, on_step=True, on_epoch=True)
        return torch.nn.functional.mse_loss(prediction, y)


def fit(seen, module, tmp_path, monkeypatch, val_batches=None, **arguments) -> None:
    """Fit ``module`` on the batches without a bar and check that the counting window ran."""
    monkeypatch.chdir(tmp_path)
    trainer = Trainer(max_epochs=1, num_sanity_val_steps=0, enable_progress_bar=False, **arguments)
    trainer.fit(module(seen), batches(), val_batches)
    assert seen["batch"] == STEPS - 1  # the window ran


def reads_in(seen) -> set[int]:
    """The batches in which a value was read."""
    return {batch for batch, _, _ in seen["where"]}


NO_READS = {  # module, Trainer arguments: no read in the window, as in Lightning
    "gradient_clip_norm": (Logging, lambda: {"gradient_clip_val": 1.0}),
    "gradient_clip_value": (Logging, lambda: {"gradient_clip_val": 0.5, "gradient_clip_algorithm": "value"}),
    "accumulate_grad_batches": (Logging, lambda: {"accumulate_grad_batches": 4}),
    "scheduler_per_step": (Scheduled, dict),
    "manual_optimization": (Manual, dict),
    "early_stopping_on_train_epoch_end": (Logging, lambda: {
        "callbacks": [EarlyStopping(monitor="train_loss", check_on_train_epoch_end=True)]}),
    "bf16_mixed": (Logging, lambda: {"precision": "bf16-mixed"}),
    "logging_steps_without_a_logger": (Logging, lambda: {"logger": False, "log_every_n_steps": 10}),
}


@pytest.mark.parametrize("configuration", NO_READS)
def test_no_value_read_in_the_steps_of_common_configurations(reads, configuration, tmp_path, monkeypatch):
    module, arguments = NO_READS[configuration]
    fit(reads, module, tmp_path, monkeypatch, **arguments())
    assert reads["where"] == [], described(reads["where"])


needs_torchmetrics = pytest.mark.skipif(importlib.util.find_spec("torchmetrics") is None,
                                        reason="torchmetrics is not installed")
LOGGING = {  # module, callbacks: what is logged at a step is read there and only there, as in Lightning
    "self_log": (Logging, list),
    "log_dict": (LoggedDict, list),
    "sync_dist_one_process": (SyncDist, list),
    "torchmetrics_metric": (MetricLogged, list),
    "learning_rate_monitor_per_step": (Scheduled, lambda: [LearningRateMonitor(logging_interval="step")]),
    "device_stats_monitor": (Logging, lambda: [DeviceStatsMonitor()]),
}
#: The logging steps in the window: (step + 1) % 10 == 0; batch 39's rows go to the loggers after its end hooks.
LOGGING_STEPS = {9, 19, 29}


@pytest.mark.parametrize("configuration", [
    pytest.param(name, marks=needs_torchmetrics) if name == "torchmetrics_metric" else name for name in LOGGING])
def test_values_are_read_only_at_the_logging_steps(reads, configuration, tmp_path, monkeypatch):
    module, callbacks = LOGGING[configuration]
    fit(reads, module, tmp_path, monkeypatch, log_every_n_steps=10, callbacks=callbacks())
    assert reads_in(reads) == LOGGING_STEPS, described(reads["where"])


@pytest.mark.parametrize("monitor", [None, "train_loss"])
def test_step_checkpoints_read_values_only_at_their_steps(reads, monitor, tmp_path, monkeypatch):
    """A checkpoint every 10 steps reads the metrics for its file name (and its monitor) then, as Lightning's."""
    fit(reads, Logging, tmp_path, monkeypatch, callbacks=[ModelCheckpoint(monitor=monitor, every_n_train_steps=10)])
    assert reads_in(reads) == {9, 19, 29, 39}, described(reads["where"])


class Validated(Logging):
    """A validation loss, logged by ``validation_step``."""

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))


def test_validation_every_10_steps_reads_values_only_there(reads, tmp_path, monkeypatch):
    """The checkpoint and early stopping that monitor the validation loss read it after each validation only."""
    callbacks = [ModelCheckpoint(monitor="val_loss"), EarlyStopping(monitor="val_loss")]
    fit(reads, Validated, tmp_path, monkeypatch, batches()[:3], val_check_interval=10, callbacks=callbacks)
    assert reads_in(reads) == {9, 19, 29}, described(reads["where"])


def test_an_accelerator_value_is_summed_on_its_device():
    """A tensor not on the CPU is added on its device, never read (a "meta" tensor has no value to read)."""
    total = RunningSum()
    for _ in range(3):
        total.add(torch.tensor(2.0, device="meta", requires_grad=True) * 1, 4)
    assert total.tensor.device.type == "meta" and total.tensor.dtype == torch.float64
    assert total.number == 0.0 and total.weight == 12 and not total.tensor.requires_grad
