"""Loggers against Lightning 2.5.6: a ``lightning.pytorch.loggers.Logger`` subclass records the calls it gets under
both trainers (``log_hyperparams`` only with hyperparameters, ``log_graph``, ``after_save_checkpoint`` after each
``ModelCheckpoint`` save, ``finalize``); Lightning's CSV and TensorBoard loggers get their checkpoints in the folder
Lightning uses."""

from __future__ import annotations

import os
import warnings

import pytest
import torch

import fhooks
import fhooks.loggers
from tests.models import loader

L = pytest.importorskip("lightning")
pytestmark = pytest.mark.parity

SETTINGS = dict(max_epochs=2, limit_train_batches=3, limit_val_batches=1, num_sanity_val_steps=0,
                enable_progress_bar=False, enable_model_summary=False)


class Recording(L.pytorch.loggers.Logger):
    """Written for Lightning: records which method was called, in order, with what it can compare."""

    def __init__(self, save_dir):
        super().__init__()
        self._save_dir, self.calls = str(save_dir), []

    name = property(lambda self: "recorded")
    version = property(lambda self: 0)
    save_dir = property(lambda self: self._save_dir)

    def log_hyperparams(self, params, *args, **kwargs):
        self.calls.append(("log_hyperparams", dict(params)))

    def log_metrics(self, metrics, step=None):
        pass

    def log_graph(self, model, input_array=None):
        self.calls.append(("log_graph", type(model).__name__))

    def after_save_checkpoint(self, checkpoint_callback):
        self.calls.append(("after_save_checkpoint", os.path.basename(checkpoint_callback.best_model_path)))

    def finalize(self, status):
        self.calls.append(("finalize", status))


def build(base, with_hparams):
    class Net(base):
        def __init__(self, lr=0.05):
            super().__init__()
            torch.manual_seed(0)
            self.layer = torch.nn.Linear(4, 1)
            if with_hparams == "saved":
                if hasattr(self, "save_hyperparameters"):
                    self.save_hyperparameters()
                else:
                    self.hparams = {"lr": lr}
            elif with_hparams == "not for the logger":
                if hasattr(self, "save_hyperparameters"):
                    self.save_hyperparameters(logger=False)
                else:
                    self._log_hyperparams, self.hparams_initial = False, {"lr": lr}

        def training_step(self, batch, batch_idx):
            x, y = batch
            return torch.nn.functional.mse_loss(self.layer(x), y)

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    Net.__name__ = "Net"
    return Net


def fit(trainer_cls, base, logger, folder, with_hparams="saved"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = trainer_cls(logger=logger, default_root_dir=folder, accelerator="cpu", **SETTINGS)
        trainer.fit(build(base, with_hparams)(), loader(24), loader(8, seed=1))
    return trainer


START = {"saved": [("log_hyperparams", {"lr": 0.05})], "none saved": [],
         "not for the logger": []}


@pytest.mark.parametrize("with_hparams", list(START))
def test_a_lightning_logger_gets_the_same_calls(tmp_path, with_hparams):
    ours, theirs = Recording(tmp_path / "a"), Recording(tmp_path / "b")
    fit(fhooks.Trainer, torch.nn.Module, ours, tmp_path / "a", with_hparams)
    fit(L.Trainer, L.LightningModule, theirs, tmp_path / "b", with_hparams)
    assert ours.calls == theirs.calls
    expected_start = START[with_hparams]
    assert theirs.calls[:len(expected_start) + 1] == [*expected_start, ("log_graph", "Net")]
    assert [c[1] for c in theirs.calls if c[0] == "after_save_checkpoint"] == ["epoch=0-step=3.ckpt",
                                                                             "epoch=1-step=6.ckpt"]


@pytest.mark.parametrize("make", [
    lambda root: L.pytorch.loggers.CSVLogger(root, name="exp"),
    lambda root: L.pytorch.loggers.TensorBoardLogger(root, name="tb", version="run_a"),
    lambda root: fhooks.loggers.CSVLogger(root, name="mine"),
], ids=["lightning csv", "lightning tensorboard", "fhooks csv"])
def test_checkpoints_go_where_lightning_puts_them(tmp_path, monkeypatch, make):
    def saved(trainer_cls, base, folder):
        folder.mkdir()
        monkeypatch.chdir(folder)
        fit(trainer_cls, base, make("logs"), "root")
        return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.ckpt"))

    if make(tmp_path).__module__.startswith("fhooks"):
        ours = saved(fhooks.Trainer, torch.nn.Module, tmp_path / "a")
        assert ours == [os.path.join("logs", "mine", "version_0", "checkpoints", "epoch=1-step=6.ckpt")]
        return
    ours = saved(fhooks.Trainer, torch.nn.Module, tmp_path / "a")
    theirs = saved(L.Trainer, L.LightningModule, tmp_path / "b")
    assert ours == theirs and len(ours) == 1
