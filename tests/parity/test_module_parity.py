"""LightningModule code run under Lightning 2.5.6 and under fhooks, only the import swapped: same results.

Each program below takes ``pl`` (one library's names) and returns its trainer after fitting;
:func:`compare` checks ``callback_metrics`` (keys, values to 1e-6), ``metrics.csv``, the checkpoint
files and the epoch/step counters.
"""

from __future__ import annotations

import pathlib
import warnings

import pytest
import torch

from tests.parity.lightning_code import apis, compare, loader, trainer_args

pytest.importorskip("lightning")

pytestmark = pytest.mark.parity

F = torch.nn.functional


def regressor(pl, **overrides):
    """A small regressor on ``pl.LightningModule``; ``overrides``: methods replacing the defaults below."""

    class Regressor(pl.LightningModule):
        def __init__(self, lr: float = 0.05):
            super().__init__()
            torch.manual_seed(0)
            self.layer = torch.nn.Linear(4, 1)
            self.lr = lr

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.mse_loss(self.layer(x), y)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", F.mse_loss(self.layer(x), y))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.lr)

    return type("Regressor", (Regressor,), overrides)


def test_weighted_validation_means_with_an_uneven_last_batch_and_early_stopping(tmp_path):
    def program(pl):
        trainer = pl.Trainer(**trainer_args(pl, max_epochs=12, log_every_n_steps=1,
                                            callbacks=[pl.EarlyStopping("val_loss", patience=1, min_delta=0.3)]))
        trainer.fit(regressor(pl)(lr=0.01), loader(70, 32), loader(70, 64, seed=1))
        return trainer

    ours, theirs = compare(tmp_path, program)
    assert ours.epoch < 12 and ours.files  # it did stop early, and ModelCheckpoint wrote its file


def test_on_step_and_on_epoch_with_sum_max_and_prog_bar(tmp_path):
    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.mse_loss(self.layer(x), y)
        self.log("loss_both", loss, on_step=True, on_epoch=True, prog_bar=True)
        self.log("seen", float(len(x)), reduce_fx="sum", on_epoch=True)
        self.log("worst", loss, reduce_fx=torch.max, on_step=False, on_epoch=True)
        self.log("hidden", loss * 2, logger=False)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        loss = F.mse_loss(self.layer(x), y)
        self.log("val_loss", loss, prog_bar=True)
        self.log("val_min", loss, reduce_fx="min")
        self.log("val_steps", loss, on_step=True)

    def program(pl):
        trainer = pl.Trainer(**trainer_args(pl, max_epochs=2, log_every_n_steps=2))
        trainer.fit(regressor(pl, training_step=training_step, validation_step=validation_step)(),
                    loader(40, 8), loader(20, 8, seed=1))
        assert sorted(trainer.progress_bar_metrics) == ["loss_both_epoch", "loss_both_step", "val_loss"]
        return trainer

    compare(tmp_path, program)


def test_logging_from_epoch_hooks_and_from_a_callback(tmp_path):
    def on_train_epoch_end(self):
        self.log("weight_norm", self.layer.weight.norm())

    def on_train_epoch_start(self):
        self.log("epoch_started", float(self.current_epoch))

    def program(pl):
        class Reports(pl.Callback):
            def on_train_epoch_end(self, trainer, pl_module):
                pl_module.log("from_callback", trainer.callback_metrics["train_loss"] * 10)

            def on_validation_epoch_end(self, trainer, pl_module):
                pl_module.log("val_seen_by_callback", trainer.callback_metrics["val_loss"] + 1)

            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                pl_module.log("batch_loss", outputs["loss"])

        trainer = pl.Trainer(**trainer_args(pl, max_epochs=2, log_every_n_steps=1, callbacks=[Reports()]))
        module = regressor(pl, on_train_epoch_end=on_train_epoch_end, on_train_epoch_start=on_train_epoch_start)()
        trainer.fit(module, loader(24, 8), loader(16, 8, seed=1))
        return trainer

    compare(tmp_path, program)


def test_two_validation_loaders_get_dataloader_idx_keys(tmp_path):
    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        x, y = batch
        self.log("val_loss", F.mse_loss(self.layer(x), y))
        self.log(f"mae_{dataloader_idx}", F.l1_loss(self.layer(x), y), add_dataloader_idx=False)

    def program(pl):
        trainer = pl.Trainer(**trainer_args(pl, max_epochs=2, log_every_n_steps=2))
        trainer.fit(regressor(pl, validation_step=validation_step)(), loader(24, 8),
                    [loader(16, 8, seed=1), loader(10, 4, seed=2)])
        return trainer

    ours, _ = compare(tmp_path, program)
    assert {"val_loss/dataloader_idx_0", "val_loss/dataloader_idx_1", "mae_0", "mae_1"} <= set(ours.metrics)


def test_one_name_from_two_loaders_without_the_suffix_is_refused_by_both(tmp_path):
    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        x, y = batch
        self.log("shared", F.l1_loss(self.layer(x), y), add_dataloader_idx=False)

    for pl in apis().values():
        trainer = pl.Trainer(**trainer_args(pl, max_epochs=1, logger=False, enable_checkpointing=False))
        with warnings.catch_warnings(), pytest.raises(Exception, match="twice in `?validation_step`? with different"):
            warnings.simplefilter("ignore")
            trainer.fit(regressor(pl, validation_step=validation_step)(), loader(8, 4),
                        [loader(8, 4, seed=1), loader(8, 4, seed=2)])


def test_torchmetrics_accuracy(tmp_path):
    torchmetrics = pytest.importorskip("torchmetrics")

    def program(pl):
        class Classifier(pl.LightningModule):
            def __init__(self):
                super().__init__()
                torch.manual_seed(0)
                self.layer = torch.nn.Linear(4, 3)
                self.train_acc = torchmetrics.Accuracy(task="multiclass", num_classes=3)
                self.val_acc = torchmetrics.Accuracy(task="multiclass", num_classes=3)

            def training_step(self, batch, batch_idx):
                x, y = batch
                logits = self.layer(x)
                self.train_acc(logits, y)
                self.log("train_acc", self.train_acc, on_step=True, on_epoch=True)
                return F.cross_entropy(logits, y)

            def validation_step(self, batch, batch_idx):
                x, y = batch
                self.val_acc.update(self.layer(x), y)
                self.log("val_acc", self.val_acc)

            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.5)

        generator = torch.Generator().manual_seed(3)
        x = torch.randn(60, 4, generator=generator)
        data = torch.utils.data.TensorDataset(x, x[:, :3].argmax(dim=1))
        trainer = pl.Trainer(**trainer_args(pl, max_epochs=2, log_every_n_steps=2))
        trainer.fit(Classifier(), torch.utils.data.DataLoader(data, batch_size=16),
                    torch.utils.data.DataLoader(data, batch_size=25))
        return trainer

    compare(tmp_path, program)


def test_configure_callbacks_replaces_the_trainers_of_the_same_type(tmp_path):
    def configure_callbacks(self):
        return [self._pl.EarlyStopping("val_loss", patience=0, min_delta=0.2),
                self._pl.ModelCheckpoint(monitor="val_loss", filename="best-{epoch}", save_top_k=2)]

    def program(pl):
        module = regressor(pl, configure_callbacks=configure_callbacks, _pl=pl)(lr=0.01)
        trainer = pl.Trainer(**trainer_args(pl, max_epochs=15, callbacks=[pl.EarlyStopping("val_loss", patience=50)]))
        trainer.fit(module, loader(40, 8), loader(16, 8, seed=1))
        return trainer

    ours, _ = compare(tmp_path, program)
    assert ours.epoch < 15 and all("best-" in f for f in ours.files)


def test_a_datamodule_with_prepare_data_and_setup(tmp_path):
    def program(pl):
        class Data(pl.LightningDataModule):
            def __init__(self, batch_size: int = 8):
                super().__init__()
                self.save_hyperparameters()
                self.calls = []

            def prepare_data(self):
                self.calls.append(("prepare_data",))

            def setup(self, stage):
                self.calls.append(("setup", stage))
                self.train_set = loader(40, 1).dataset
                self.val_set = loader(20, 1, seed=1).dataset

            def train_dataloader(self):
                return torch.utils.data.DataLoader(self.train_set, batch_size=self.hparams.batch_size)

            def val_dataloader(self):
                return torch.utils.data.DataLoader(self.val_set, batch_size=self.hparams.batch_size)

            def teardown(self, stage):
                self.calls.append(("teardown", stage))  # Lightning's stages are str enums: == "fit" holds

        data = Data(batch_size=6)
        trainer = pl.Trainer(**trainer_args(pl, max_epochs=2, log_every_n_steps=3))
        trainer.fit(regressor(pl)(), datamodule=data)
        trainer.validate(regressor(pl)(), data)
        trainer.calls = data.calls
        return trainer

    ours, theirs = compare(tmp_path, program)
    assert ours.trainer.calls == theirs.trainer.calls


def test_seed_everything_with_shuffle_and_dropout(tmp_path):
    def program(pl):
        class Noisy(pl.LightningModule):
            def __init__(self):
                super().__init__()
                self.net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Dropout(0.3), torch.nn.Linear(16, 1))

            def training_step(self, batch, batch_idx):
                x, y = batch
                loss = F.mse_loss(self.net(x), y)
                self.log("train_loss", loss, on_epoch=True)
                return loss

            def validation_step(self, batch, batch_idx):
                x, y = batch
                self.log("val_loss", F.mse_loss(self.net(x), y))

            def configure_optimizers(self):
                return torch.optim.Adam(self.parameters(), lr=0.01)

        pl.seed_everything(11)
        trainer = pl.Trainer(**trainer_args(pl, max_epochs=3, log_every_n_steps=2))
        trainer.fit(Noisy(), loader(48, 8, shuffle=True), loader(24, 8, seed=1, shuffle=True))
        return trainer

    compare(tmp_path, program)


def test_save_hyperparameters_and_load_from_checkpoint(tmp_path):
    def program(pl):
        class Wide(regressor(pl)):
            def __init__(self, width: int = 8, lr: float = 0.05):
                super().__init__(lr=lr)
                self.save_hyperparameters()
                self.layer = torch.nn.Sequential(torch.nn.Linear(4, width), torch.nn.Linear(width, 1))

        trainer = pl.Trainer(**trainer_args(pl, max_epochs=2))
        trainer.fit(Wide(width=5, lr=0.02), loader(24, 8), loader(16, 8, seed=1))
        (path,) = pathlib.Path(".").rglob("*.ckpt")
        restored = Wide.load_from_checkpoint(path)
        trainer.restored = (dict(restored.hparams), restored.layer[0].weight.detach().clone())
        return trainer

    ours, theirs = compare(tmp_path, program)
    assert ours.trainer.restored[0] == theirs.trainer.restored[0] == {"width": 5, "lr": 0.02}
    assert torch.allclose(ours.trainer.restored[1], theirs.trainer.restored[1], atol=1e-6)


def test_an_optimizer_step_override_doing_lr_warm_up(tmp_path):
    def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure):
        optimizer.step(closure=optimizer_closure)
        scale = min(1.0, (self.trainer.global_step + 1) / 5)
        for group in optimizer.param_groups:
            group["lr"] = scale * self.lr
        self.log("lr", optimizer.param_groups[0]["lr"])

    def program(pl):
        trainer = pl.Trainer(**trainer_args(pl, max_epochs=2, log_every_n_steps=1, accumulate_grad_batches=2,
                                            gradient_clip_val=0.5))
        trainer.fit(regressor(pl, optimizer_step=optimizer_step)(), loader(40, 4), loader(16, 8, seed=1))
        return trainer

    ours, _ = compare(tmp_path, program)
    assert ours.metrics["lr"] == pytest.approx(0.05)


def test_manual_optimization_with_two_optimizers_and_schedulers(tmp_path):
    def program(pl):
        class Gan(pl.LightningModule):
            def __init__(self):
                super().__init__()
                torch.manual_seed(0)
                self.automatic_optimization = False
                self.generator = torch.nn.Linear(2, 4)
                self.critic = torch.nn.Linear(4, 1)

            def training_step(self, batch, batch_idx):
                x, _ = batch
                g_opt, c_opt = self.optimizers()
                fake = self.generator(x[:, :2])
                self.toggle_optimizer(c_opt)
                c_loss = self.critic(fake.detach()).mean() - self.critic(x).mean()
                c_opt.zero_grad()
                self.manual_backward(c_loss)
                c_opt.step()
                self.untoggle_optimizer(c_opt)
                self.toggle_optimizer(g_opt)
                g_loss = -self.critic(self.generator(x[:, :2])).mean()
                g_opt.zero_grad()
                self.manual_backward(g_loss)
                g_opt.step()
                self.untoggle_optimizer(g_opt)
                self.log_dict({"g_loss": g_loss, "c_loss": c_loss}, prog_bar=True)
                if batch_idx == 4:  # the last of 5
                    for scheduler in self.lr_schedulers():
                        scheduler.step()

            def validation_step(self, batch, batch_idx):
                x, _ = batch
                self.log("val_critic", self.critic(x).mean())

            def configure_optimizers(self):
                g_opt = torch.optim.Adam(self.generator.parameters(), lr=0.01)
                c_opt = torch.optim.SGD(self.critic.parameters(), lr=0.01)
                return [g_opt, c_opt], [torch.optim.lr_scheduler.StepLR(g_opt, 1, 0.5),
                                        torch.optim.lr_scheduler.StepLR(c_opt, 1, 0.5)]

        trainer = pl.Trainer(**trainer_args(pl, max_epochs=2, log_every_n_steps=2))
        trainer.fit(Gan(), loader(40, 8), loader(16, 8, seed=1))
        trainer.lrs = [c.scheduler.get_last_lr()[0] for c in trainer.lr_scheduler_configs]
        return trainer

    ours, theirs = compare(tmp_path, program)
    assert ours.step == 20 and ours.trainer.lrs == theirs.trainer.lrs == [0.0025, 0.0025]


def test_on_train_batch_start_returning_minus_one_skips_the_rest_of_the_epoch(tmp_path):
    def on_train_batch_start(self, batch, batch_idx):
        self.log("started", float(batch_idx))
        return -1 if batch_idx == 2 + self.current_epoch else None

    def program(pl):
        trainer = pl.Trainer(**trainer_args(pl, max_epochs=3, log_every_n_steps=1))
        trainer.fit(regressor(pl, on_train_batch_start=on_train_batch_start)(), loader(48, 8), loader(16, 8, seed=1))
        return trainer

    ours, _ = compare(tmp_path, program)
    assert ours.step == 2 + 3 + 4
