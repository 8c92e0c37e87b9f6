"""A ``lightning.pytorch.Callback`` written for Lightning runs unchanged in ``fhooks.Trainer`` with the same results.

The callback reads ``trainer.callback_metrics``, ``lightning_module`` and ``is_global_zero``,
logs through ``pl_module.log``, writes into the checkpoint in ``on_save_checkpoint``, calls
``trainer.save_checkpoint`` and keeps a ``state_dict``; the same script runs under both trainers
and what it saw must agree, including the state a resumed run gives back to ``load_state_dict``.
"""

from __future__ import annotations

import warnings

import pytest
import torch

import fhooks
from fhooks.callbacks.lightning_adapter import LightningCallback
from fhooks.errors import InvalidArgument
from tests.models import loader

L = pytest.importorskip("lightning")
pytestmark = pytest.mark.parity

SETTINGS = dict(max_epochs=2, limit_train_batches=4, limit_val_batches=2, num_sanity_val_steps=0, logger=False,
                enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)


class Watcher(L.pytorch.Callback):
    """Written for Lightning: what it records must not depend on the trainer running it."""

    def __init__(self, final_path, watched=("train_loss", "val_loss")):
        self.final_path, self.epochs, self.seen, self.loaded = final_path, 0, [], None
        self.watched = watched

    @property
    def state_key(self):
        return self._generate_state_key(final=str(self.final_path.name))

    def on_fit_start(self, trainer, pl_module):
        self.seen.append(("fit_start", trainer.is_global_zero, trainer.lightning_module is pl_module))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if batch_idx == 0:
            self.seen.append(("batch", trainer.current_epoch, trainer.global_step, round(float(outputs["loss"]), 5)))

    def on_validation_epoch_end(self, trainer, pl_module):
        pl_module.log("epochs_watched", float(self.epochs), on_step=False, on_epoch=True)

    def on_train_epoch_end(self, trainer, pl_module):
        self.epochs += 1
        metrics = {k: round(float(v), 4) for k, v in trainer.callback_metrics.items() if k in self.watched}
        self.seen.append(("epoch_end", trainer.current_epoch, sorted(metrics.items())))

    def on_save_checkpoint(self, trainer, pl_module, checkpoint):
        checkpoint["watcher_note"] = self.epochs

    def on_fit_end(self, trainer, pl_module):
        trainer.save_checkpoint(self.final_path)

    def state_dict(self):
        return {"epochs": self.epochs}

    def load_state_dict(self, state_dict):
        self.loaded = dict(state_dict)


def build(base):
    class Module(base):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.layer(x), y)
            self.log("train_loss", loss, on_step=False, on_epoch=True)
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    return Module


def run(trainer_cls, base, folder, resume_from=None, watched=("train_loss", "val_loss"), **settings):
    watcher = Watcher(folder / "final.ckpt", watched)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        extra = {"accelerator": "cpu", "default_root_dir": folder}
        trainer = trainer_cls(callbacks=[watcher], **{**SETTINGS, **settings}, **extra)
        trainer.fit(build(base)(), loader(32), loader(16, seed=1), ckpt_path=resume_from)
    return watcher


def test_same_observations_under_both_trainers(tmp_path):
    ours = run(fhooks.Trainer, torch.nn.Module, tmp_path / "fhooks")
    theirs = run(L.Trainer, L.LightningModule, tmp_path / "lightning")
    assert ours.seen == theirs.seen
    assert [entry[0] for entry in ours.seen] == ["fit_start", "batch", "epoch_end", "batch", "epoch_end"]


def test_pl_module_log_in_a_callback_reaches_callback_metrics(tmp_path):
    ours = run(fhooks.Trainer, torch.nn.Module, tmp_path / "fhooks", watched=("epochs_watched",))
    theirs = run(L.Trainer, L.LightningModule, tmp_path / "lightning", watched=("epochs_watched",))
    assert theirs.seen[2] == ("epoch_end", 0, [("epochs_watched", 0.0)])
    assert ours.seen == theirs.seen


def test_checkpoint_carries_its_note_and_state_back_to_load_state_dict(tmp_path):
    for trainer_cls, base, name in ((fhooks.Trainer, torch.nn.Module, "fhooks"), (L.Trainer, L.LightningModule, "pl")):
        first = run(trainer_cls, base, tmp_path / name)
        saved = torch.load(first.final_path, weights_only=True)
        assert saved["watcher_note"] == 2
        resumed = run(trainer_cls, base, tmp_path / name, resume_from=first.final_path, max_epochs=3)
        assert resumed.loaded == {"epochs": 2}, name


def test_lightning_builtins_are_refused_with_the_fhooks_class_to_use():
    with pytest.raises(InvalidArgument, match=r"^Trainer: callbacks\[0\]: lightning.pytorch.callbacks.EarlyStopping "
                                              r"needs Lightning's own Trainer internals; use "
                                              r"fhooks.callbacks.EarlyStopping \(same arguments\)$"):
        fhooks.Trainer(callbacks=[L.pytorch.callbacks.EarlyStopping("val_loss")])

    class MyCheckpoint(L.pytorch.callbacks.ModelCheckpoint):
        pass

    with pytest.raises(InvalidArgument, match="a subclass of lightning.pytorch.callbacks.ModelCheckpoint .*"
                                              "subclass fhooks.callbacks.ModelCheckpoint instead"):
        fhooks.Trainer(callbacks=MyCheckpoint())


def test_lightning_lambda_callback_runs_as_it_is(tmp_path):
    calls = []
    callback = L.pytorch.callbacks.LambdaCallback(on_train_epoch_end=lambda t, m: calls.append(t.current_epoch))
    trainer = fhooks.Trainer(callbacks=callback, **SETTINGS)
    trainer.fit(build(torch.nn.Module)(), loader(32))
    assert isinstance(trainer.callbacks[0], LightningCallback)
    assert calls == [0, 1]
