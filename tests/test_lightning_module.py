"""fhooks.LightningModule and LightningDataModule on fhooks.Trainer: the module API, the hooks in Lightning's order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fhooks
from fhooks.errors import MisconfigurationError
from tests.parity.lightning_code import loader

F = torch.nn.functional


def quiet(**config):
    return fhooks.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                          enable_model_summary=False, **config)


class Regressor(fhooks.LightningModule):
    def __init__(self, lr: float = 0.05):
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.mse_loss(self.layer(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.mse_loss(self.layer(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def _recording(name):
    def hook(self, *args, **kwargs):
        self.calls.append(name)
        return getattr(super(Recorded, self), name)(*args, **kwargs)

    return hook


HOOKS = ("configure_callbacks", "prepare_data", "setup", "configure_model", "configure_optimizers", "on_fit_start",
         "on_train_start", "training_step", "optimizer_zero_grad", "backward", "optimizer_step", "validation_step",
         "on_validation_model_eval", "on_validation_model_train", "on_train_epoch_end", "on_train_end", "teardown")


class Recorded(Regressor):
    """Records every hook of :data:`HOOKS` Lightning would call, in order."""

    def __init__(self):
        super().__init__()
        self.calls = []

    locals().update({name: _recording(name) for name in HOOKS})


class TestModuleApi:
    def test_the_trainer_and_its_counters_are_visible_from_the_module(self):
        seen = []

        class Looks(Regressor):
            def on_train_epoch_end(self):
                seen.append((self.trainer.current_epoch, self.current_epoch, self.global_step, self.logger))

        module = Looks()
        trainer = quiet(max_epochs=2)
        trainer.fit(module, loader(16, 8))
        assert seen == [(0, 0, 2, None), (1, 1, 4, None)]
        assert module.trainer is trainer  # kept after the run, as Lightning

    def test_a_module_without_a_trainer_warns_on_log_and_refuses_trainer(self):
        module = Regressor()
        with pytest.warns(UserWarning, match="before the module is attached"):
            module.log("x", 1.0)
        with pytest.raises(RuntimeError, match="not attached to a Trainer"):
            module.trainer

    def test_hparams_freeze_and_load_from_checkpoint(self, tmp_path):
        module = Regressor(lr=0.2)
        assert module.hparams == {"lr": 0.2} and module.hparams.lr == 0.2
        trainer = quiet(max_epochs=1)
        trainer.fit(module, loader(8, 4))
        path = trainer.save_checkpoint("last.ckpt")
        restored = Regressor.load_from_checkpoint(path)
        assert restored.hparams == {"lr": 0.2}
        assert torch.equal(restored.layer.weight, module.layer.weight.cpu())
        restored.freeze()
        assert not restored.training and not any(p.requires_grad for p in restored.parameters())
        restored.unfreeze()
        assert restored.training and all(p.requires_grad for p in restored.parameters())

    def test_returned_values_are_not_metrics_for_a_lightning_module(self):
        class Returns(Regressor):
            def validation_step(self, batch, batch_idx):
                x, y = batch
                return {"val_mse": F.mse_loss(self.layer(x), y)}

        trainer = quiet(max_epochs=1)
        trainer.fit(Returns(), loader(8, 4), loader(8, 4))
        assert sorted(trainer.callback_metrics) == ["train_loss"]  # no "loss", no "val_mse": as Lightning
        assert isinstance(trainer.callback_metrics["train_loss"], torch.Tensor)


class TestHookOrder:
    def test_hooks_run_in_lightnings_order(self):
        module = Recorded()
        quiet(max_epochs=1, limit_train_batches=1, limit_val_batches=1, num_sanity_val_steps=0).fit(
            module, loader(8, 4), loader(8, 4))
        assert module.calls == [
            "configure_callbacks", "prepare_data", "setup", "configure_model", "configure_optimizers", "on_fit_start",
            "on_train_start", "optimizer_step", "training_step", "optimizer_zero_grad", "backward",
            "on_validation_model_eval", "validation_step", "on_validation_model_train", "on_train_epoch_end",
            "on_train_end", "teardown"]

    def test_backward_zero_grad_and_transfer_overrides_are_called(self):
        calls = []

        class Overrides(Regressor):
            def backward(self, loss, *args, **kwargs):
                calls.append("backward")
                loss.backward()

            def optimizer_zero_grad(self, epoch, batch_idx, optimizer):
                calls.append("zero_grad")
                optimizer.zero_grad()

            def transfer_batch_to_device(self, batch, device, dataloader_idx):
                calls.append(f"transfer:{dataloader_idx}")
                return [t.to(device) * 1 for t in batch]

            def on_validation_model_eval(self):
                calls.append("model_eval")
                self.eval()

        quiet(max_epochs=1, num_sanity_val_steps=0).fit(Overrides(), loader(8, 4), loader(4, 4))
        assert calls == ["transfer:0", "zero_grad", "backward"] * 2 + ["model_eval", "transfer:0"]

    def test_a_datamodule_passed_in_place_of_the_loaders(self):
        class Data(fhooks.LightningDataModule):
            def setup(self, stage):
                self.stage = stage

            def train_dataloader(self):
                return loader(8, 4)

        data = Data()
        trainer = quiet(max_epochs=1)
        trainer.fit(Regressor(), data)
        assert data.stage == "fit" and trainer.global_step == 2 and data.trainer is trainer
        with pytest.raises(MisconfigurationError, match="both dataloaders and a datamodule"):
            trainer.fit(Regressor(), loader(8, 4), datamodule=data)


class TestLogRules:
    def test_refused_hooks_and_levels_say_where_and_what_is_accepted(self):
        class LogsInSetup(Regressor):
            def on_train_end(self):
                self.log("late", 1.0)

        with pytest.raises(MisconfigurationError, match="inside on_train_end is not allowed"):
            quiet(max_epochs=1).fit(LogsInSetup(), loader(8, 4))

        class StepInEpochHook(Regressor):
            def on_train_epoch_end(self):
                self.log("x", 1.0, on_step=True)

        with pytest.raises(MisconfigurationError, match=r"on_step=True\) inside on_train_epoch_end"):
            quiet(max_epochs=1).fit(StepInEpochHook(), loader(8, 4))

    def test_bad_values_and_reductions_are_refused(self):
        class Bad(Regressor):
            def training_step(self, batch, batch_idx):
                self.log("vector", torch.ones(3))

        with pytest.raises(MisconfigurationError, match=r"tensor of shape \(3,\)"):
            quiet(max_epochs=1).fit(Bad(), loader(8, 4))

        class Median(Regressor):
            def training_step(self, batch, batch_idx):
                self.log("m", 1.0, reduce_fx="median")

        with pytest.raises(MisconfigurationError, match=r"reduce_fx='median'\); accepted"):
            quiet(max_epochs=1).fit(Median(), loader(8, 4))

    def test_numpy_scalars_and_given_batch_sizes(self):
        class Numpy(Regressor):
            def validation_step(self, batch, batch_idx):
                self.log("np_value", np.float32(batch_idx + 1), batch_size=1 if batch_idx == 0 else 3)

        trainer = quiet(max_epochs=1, num_sanity_val_steps=0)
        trainer.fit(Numpy(), loader(8, 4), loader(8, 4))
        assert float(trainer.callback_metrics["np_value"]) == pytest.approx((1 * 1 + 2 * 3) / 4)


class TestPlainModuleOutputs:
    class Plain(torch.nn.Module):
        def __init__(self, detach: bool = False):
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)
            self.detach = detach

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.mse_loss(self.layer(x), y)
            return loss.detach() if self.detach else loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            return {"val_np": np.float64(F.mse_loss(self.layer(x), y).item()), "val_0d": np.array(2.0)}

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    def test_numpy_scalars_returned_from_validation_step_are_kept(self):
        trainer = quiet(max_epochs=1)
        trainer.fit(self.Plain(), loader(8, 4), loader(8, 4))
        assert trainer.callback_metrics["val_0d"] == 2.0 and np.isfinite(trainer.callback_metrics["val_np"])

    def test_a_loss_that_does_not_require_grad_gets_a_clear_error(self):
        with pytest.raises(fhooks.errors.InvalidStepOutput, match="does not require grad"):
            quiet(max_epochs=1).fit(self.Plain(detach=True), loader(8, 4))


class TestCheckpointHooks:
    def test_on_save_checkpoint_adds_and_on_load_checkpoint_reads_back(self):
        class Keeps(Regressor):
            def __init__(self, lr: float = 0.05):
                super().__init__(lr)
                self.loaded = None

            def on_save_checkpoint(self, checkpoint):
                checkpoint["my_state"] = {"seen": self.global_step}

            def on_load_checkpoint(self, checkpoint):
                self.loaded = checkpoint["my_state"]

        trainer = quiet(max_epochs=1)
        trainer.fit(Keeps(), loader(8, 4))
        path = trainer.save_checkpoint("end.ckpt")
        resumed = Keeps()
        quiet(max_epochs=2).fit(resumed, loader(8, 4), ckpt_path=path)
        assert resumed.loaded == {"seen": 2}
        assert Keeps.load_from_checkpoint(path).loaded == {"seen": 2}


class TestConfigureCallbacks:
    def test_same_type_replaces_generic_hooks_stay_and_checkpoints_go_last(self):
        from fhooks.callbacks import EarlyStopping, ModelCheckpoint
        from fhooks.lightning.run import merge_callbacks

        watch = fhooks.on("train_epoch_end", lambda e: None)
        default_checkpoint, old_stop = ModelCheckpoint(), EarlyStopping("val_loss")

        class WithCallbacks(Regressor):
            def configure_callbacks(self):
                return [self.checkpoint, self.stop, fhooks.on("validation_end", lambda e: None)]

        module = WithCallbacks()
        module.checkpoint, module.stop = ModelCheckpoint(monitor="val_loss"), EarlyStopping("val_loss", patience=9)
        merged = merge_callbacks([default_checkpoint, watch, old_stop], module)
        assert merged[:2] == [watch, module.stop] and merged[-1] is module.checkpoint
        assert default_checkpoint not in merged and old_stop not in merged and len(merged) == 4
