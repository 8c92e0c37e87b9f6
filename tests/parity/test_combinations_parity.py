"""Trainer arguments users combine, under Lightning 2.5.6 and under fhooks: same metrics, rows, files and counters.

Each program takes ``pl`` (one library's names) and returns its trainer after fitting; :func:`compare`
checks ``callback_metrics``, ``metrics.csv``, the checkpoint files and the epoch/step counters.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from tests.parity.lightning_code import apis, compare, loader, trainer_args
from tests.parity.test_module_parity import regressor

pytest.importorskip("lightning")

pytestmark = pytest.mark.parity

F = torch.nn.functional


def logs_both(self, batch, batch_idx):
    x, y = batch
    loss = F.mse_loss(self.layer(x), y)
    self.log("loss", loss, on_step=True, on_epoch=True, prog_bar=True)
    return loss


def logs_lr(self, batch, batch_idx):
    x, y = batch
    loss = F.mse_loss(self.layer(x), y)
    self.log("train_loss", loss)
    self.log("lr", self.trainer.optimizers[0].param_groups[0]["lr"])
    return loss


def validates_lr(self, batch, batch_idx):
    x, y = batch
    self.log("val_loss", F.mse_loss(self.layer(x), y))
    self.log("val_lr", self.trainer.optimizers[0].param_groups[0]["lr"])


CONFIGS = {
    # 9 batches: 0.25 of them validates after batches 2, 4, 6, 8 only, not after the 9th
    "val_check_interval=0.25, 9 batches": dict(max_epochs=2, val_check_interval=0.25),
    "val_check_interval=0.25 with limits": dict(max_epochs=2, val_check_interval=0.25, limit_train_batches=7,
                                                limit_val_batches=2),
    # every 4 batches counted over the fit, not within each epoch of 5
    "int val_check_interval over epochs": dict(max_steps=20, val_check_interval=4, check_val_every_n_epoch=None,
                                               limit_train_batches=5, limit_val_batches=1),
    "accumulate 3, log every 2": dict(max_epochs=2, accumulate_grad_batches=3, log_every_n_steps=2),
    "max_steps mid-epoch, validating twice an epoch": dict(max_steps=13, val_check_interval=0.5),
}


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_validation_schedules_and_logging_steps(config, tmp_path):
    def program(pl):
        callbacks = [pl.ModelCheckpoint(monitor="val_loss", save_top_k=2, save_last=True,
                                        filename="{epoch}-{val_loss:.2f}"), pl.EarlyStopping("val_loss", patience=3)]
        trainer = pl.Trainer(**trainer_args(pl, callbacks=callbacks, **{"log_every_n_steps": 1, **config}))
        trainer.fit(regressor(pl, training_step=logs_both)(), loader(72, 8), loader(24, 8, seed=1))
        return trainer

    compare(tmp_path, program)


def step_every_two(self):
    optimizer = torch.optim.SGD(self.parameters(), lr=self.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 2}}


def plateau_on_val_loss_by_step(self):
    optimizer = torch.optim.SGD(self.parameters(), lr=self.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
    return {"optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss", "interval": "step", "frequency": 3}}


def step_lr_by_epoch(self):
    optimizer = torch.optim.SGD(self.parameters(), lr=self.lr)
    return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 1, 0.5)}


def plateau_on_val_loss(self):
    optimizer = torch.optim.SGD(self.parameters(), lr=self.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss"}}


SCHEDULERS = {
    # the frequency counts the epoch's batches (Lightning's batch_idx + 1), not the global step
    "step interval, frequency 2, 5 batches an epoch": (step_every_two, dict(max_epochs=3, accumulate_grad_batches=1)),
    "step interval, frequency 2, accumulating": (step_every_two, dict(max_epochs=3, accumulate_grad_batches=2)),
    # a plateau scheduler of interval "step" steps after that batch's validation, on its val_loss
    "plateau on val_loss by step": (plateau_on_val_loss_by_step, dict(max_epochs=3, val_check_interval=0.5)),
    # an epoch scheduler steps with the epoch's last batch: the validation after it sees the new rate
    "StepLR by epoch": (step_lr_by_epoch, dict(max_epochs=3, val_check_interval=0.5)),
    "plateau on val_loss by epoch": (plateau_on_val_loss, dict(max_epochs=3)),
}


@pytest.mark.parametrize(("configure_optimizers", "config"), SCHEDULERS.values(), ids=SCHEDULERS.keys())
def test_schedulers_step_when_lightnings_do(configure_optimizers, config, tmp_path):
    def lr_scheduler_step(self, scheduler, metric):
        self.scheduler_steps += 1
        super(type(self), self).lr_scheduler_step(scheduler, metric)

    def on_train_epoch_end(self):
        self.log("scheduler_steps", float(self.scheduler_steps))

    def program(pl):
        module = regressor(pl, configure_optimizers=configure_optimizers, training_step=logs_lr,
                           validation_step=validates_lr, lr_scheduler_step=lr_scheduler_step,
                           on_train_epoch_end=on_train_epoch_end, scheduler_steps=0)(lr=0.1)
        trainer = pl.Trainer(**trainer_args(pl, log_every_n_steps=1, **config))
        trainer.fit(module, loader(40, 8), loader(16, 8, seed=1))
        return trainer

    ours, _ = compare(tmp_path, program)
    assert ours.metrics["scheduler_steps"] > 0


def frozen(pl):
    """A module on ``pl.LightningModule`` whose backbone (with dropout) is put in eval mode by its ``__init__``."""

    class Frozen(pl.LightningModule):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.backbone = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5))
            self.backbone.eval()  # Lightning never calls train() on the module: this dropout stays off
            self.head = torch.nn.Linear(8, 1)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.mse_loss(self.head(self.backbone(x)), y)
            self.log("train_loss", loss)
            self.log("backbone_training", float(self.backbone.training))
            self.log("head_training", float(self.head.training))
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", F.mse_loss(self.head(self.backbone(x)), y))

        def predict_step(self, batch, batch_idx):
            return self.head(self.backbone(batch[0]))

        def configure_optimizers(self):
            return torch.optim.SGD(self.head.parameters(), lr=0.05)

    return Frozen


def test_a_submodule_frozen_in_eval_mode_stays_so(tmp_path):
    def program(pl):
        pl.seed_everything(1)
        trainer = pl.Trainer(**trainer_args(pl, max_epochs=2, log_every_n_steps=1))
        trainer.fit(frozen(pl)(), loader(24, 8), loader(16, 8, seed=1))
        return trainer

    ours, _ = compare(tmp_path, program)
    assert ours.metrics["backbone_training"] == 0.0 and ours.metrics["head_training"] == 1.0


def test_predict_gives_back_the_modes_it_found(tmp_path):
    modes = {}
    for name, pl in apis().items():
        module = frozen(pl)()
        trainer = pl.Trainer(**trainer_args(pl, logger=False))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Lightning's FutureWarning on torch's pytree
            trainer.predict(module, loader(8, 4))
        modes[name] = (module.training, module.backbone.training, module.head.training)
    assert modes["fhooks"] == modes["lightning"] == (True, False, True)


def test_loaders_that_draw_random_data_get_lightnings_draws(tmp_path):
    from lightning.pytorch.demos.boring_classes import BoringModel

    def program(pl):
        class Logs(BoringModel):  # its loaders draw their data from the global RNG when made
            def validation_step(self, batch, batch_idx):
                self.log("val", super().validation_step(batch, batch_idx)["x"])

        torch.manual_seed(0)
        trainer = pl.Trainer(**trainer_args(pl, max_epochs=2, limit_train_batches=4, limit_val_batches=2,
                                            log_every_n_steps=1))
        trainer.fit(Logs())
        return trainer

    compare(tmp_path, program)
