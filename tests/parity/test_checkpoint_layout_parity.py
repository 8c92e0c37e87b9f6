"""Checkpoints both ways: an fhooks checkpoint in Lightning's layout loads with Lightning's ``load_from_checkpoint``
and resumes in Lightning's Trainer with the same weights, optimizer and scheduler states, counters and callback
states."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch

import fhooks

pl = pytest.importorskip("lightning.pytorch")

pytestmark = pytest.mark.parity

BATCHES = 3


class Regressor(pl.LightningModule):
    def __init__(self, lr: float = 0.05):
        super().__init__()
        self.save_hyperparameters()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.5)]


def loader():
    g = torch.Generator().manual_seed(1)
    data = torch.utils.data.TensorDataset(torch.randn(4 * BATCHES, 4, generator=g), torch.randn(4 * BATCHES, 1, generator=g))
    return torch.utils.data.DataLoader(data, batch_size=4)


def quiet(**more):
    return dict(logger=False, enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, **more)


class Seen(pl.Callback):
    """What Lightning's trainer holds when training starts after a resume."""

    def on_train_start(self, trainer, pl_module):
        self.at_start = (trainer.current_epoch, trainer.global_step,
                         {k: v.clone() for k, v in pl_module.state_dict().items()},
                         copy.deepcopy(trainer.optimizers[0].state_dict()),
                         dict(trainer.lr_scheduler_configs[0].scheduler.state_dict()),
                         trainer.early_stopping_callback.best_score.item())


def test_fhooks_checkpoint_loads_and_resumes_in_lightning(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stop = fhooks.callbacks.EarlyStopping(monitor="val_loss", patience=5)
    trainer = fhooks.Trainer(max_epochs=2, callbacks=[stop], **quiet(enable_checkpointing=False))
    model = Regressor(lr=0.02)
    trainer.fit(model, loader(), loader())
    path = trainer.save_checkpoint("fhooks.ckpt")
    saved = torch.load(path, weights_only=True)
    assert saved["pytorch-lightning_version"] and saved["hyper_parameters"] == {"lr": 0.02}
    assert stop.state_key in saved["callbacks"]

    loaded = Regressor.load_from_checkpoint(path)
    assert loaded.hparams.lr == 0.02
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))

    seen = Seen()
    stop_pl = pl.callbacks.EarlyStopping(monitor="val_loss", patience=5)
    resumed = pl.Trainer(max_epochs=3, callbacks=[seen, stop_pl], **quiet(enable_checkpointing=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's notes about workers and the resume itself
        resumed.fit(Regressor(), loader(), loader(), ckpt_path=path)
    epoch, step, weights, optimizer, scheduler, best = seen.at_start
    assert (epoch, step) == (2, 2 * BATCHES)
    assert all(torch.equal(weights[k], v) for k, v in saved["state_dict"].items())
    assert optimizer["state"][0]["step"] == saved["optimizer_states"][0]["state"][0]["step"]
    assert torch.equal(optimizer["state"][0]["exp_avg"], saved["optimizer_states"][0]["state"][0]["exp_avg"])
    assert scheduler["last_epoch"] == saved["lr_schedulers"][0]["last_epoch"] == 2
    assert (resumed.current_epoch, resumed.global_step) == (3, 3 * BATCHES)
    assert best == pytest.approx(float(stop.best_score))


def test_lightning_checkpoint_resumes_in_fhooks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stop_pl = pl.callbacks.EarlyStopping(monitor="val_loss", patience=5)
    saver = pl.callbacks.ModelCheckpoint(dirpath="lightning_ckpts")  # the fhooks run below has none: not restored
    trainer = pl.Trainer(max_epochs=2, callbacks=[stop_pl, saver], **quiet())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(Regressor(lr=0.02), loader(), loader())
    trainer.save_checkpoint("lightning.ckpt")
    saved = torch.load("lightning.ckpt", weights_only=True)

    class Seen(fhooks.Callback):
        def on_train_start(self, trainer, pl_module):
            self.at_start = (trainer.current_epoch, trainer.global_step,
                             {k: v.clone() for k, v in pl_module.state_dict().items()},
                             copy.deepcopy(trainer.optimizers[0].state_dict()),
                             dict(trainer.lr_scheduler_configs[0].scheduler.state_dict()),
                             float(trainer.early_stopping_callback.best_score))

    seen, stop = Seen(), fhooks.callbacks.EarlyStopping(monitor="val_loss", patience=5)
    resumed = fhooks.Trainer(max_epochs=3, callbacks=[seen, stop], **quiet(enable_checkpointing=False))
    with pytest.warns(fhooks.errors.HookStateWarning, match=r"ModelCheckpoint\{'monitor': None") as caught:
        resumed.fit(Regressor(), loader(), loader(), ckpt_path="lightning.ckpt")
    assert len(caught) == 1  # one warning, naming what could not be restored
    epoch, step, weights, optimizer, scheduler, best = seen.at_start
    assert (epoch, step) == (2, 2 * BATCHES)
    assert all(torch.equal(weights[k], v) for k, v in saved["state_dict"].items())
    assert torch.equal(optimizer["state"][0]["exp_avg"], saved["optimizer_states"][0]["state"][0]["exp_avg"])
    assert scheduler["last_epoch"] == saved["lr_schedulers"][0]["last_epoch"] == 2
    assert best == pytest.approx(stop_pl.best_score.item())
    assert (resumed.current_epoch, resumed.global_step) == (3, 3 * BATCHES)
