"""The trainer on real modules: Lightning's arguments, step outputs, optimizers, logging, effects, errors."""

from __future__ import annotations

import math

import pytest
import torch

from fhooks import (
    Callback,
    Log,
    Raise,
    SetAccumulation,
    SetLearningRates,
    Stop,
    Trainer,
    every_n,
    lambda_hook,
    on,
    stateful,
)
from fhooks.callbacks import LambdaCallback
from fhooks.errors import InvalidArgument, InvalidStepOutput, MisconfigurationError
from tests.models import Regressor, loader


def quiet(**kwargs) -> Trainer:
    kwargs.setdefault("enable_checkpointing", False)
    kwargs.setdefault("enable_progress_bar", False)
    kwargs.setdefault("enable_model_summary", False)
    return Trainer(**kwargs)


def counter(kind: str):
    return stateful(0, lambda n, e: (n + 1, None), kinds=kind, name=f"count_{kind}")


class Returns(Regressor):
    """A regressor whose training_step returns ``value(loss)`` instead of the loss."""

    def __init__(self, value) -> None:
        super().__init__()
        self.value = value

    def training_step(self, batch, batch_idx):
        return self.value(super().training_step(batch, batch_idx))


class TestStepOutputs:
    @pytest.mark.parametrize("value", [lambda loss: loss, lambda loss: {"loss": loss, "mae": loss.sqrt()}])
    def test_a_loss_tensor_or_a_dict_with_loss_trains(self, value):
        trainer = quiet(max_epochs=1)
        trainer.fit(Returns(value), loader())
        assert trainer.global_step == 8
        assert math.isfinite(trainer.callback_metrics["loss"])

    def test_dict_values_reach_train_batch_end_metrics_and_epoch_means(self):
        seen = []
        hook = on("train_batch_end", lambda e: seen.append((e.metrics["loss"], e.metrics["mae"])))
        trainer = quiet(max_epochs=1, callbacks=[hook])
        trainer.fit(Returns(lambda loss: {"loss": loss, "mae": loss.sqrt()}), loader())
        assert len(seen) == 8 and all(isinstance(v, float) for pair in seen for v in pair)
        assert trainer.callback_metrics["mae"] == pytest.approx(sum(m for _, m in seen) / 8)

    def test_predictions_returned_beside_the_loss_are_outputs_not_metrics(self, tmp_path, monkeypatch):
        """With the default bar drawing each step's values, a tensor of predictions once stopped the fit."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("FHOOKS_PROGRESS_MININTERVAL", "0")  # the bar draws every step's values
        outputs, metrics = [], []

        def seen(event):
            outputs.append(event.data.outputs)
            metrics.append(dict(event.metrics))

        hook = on("train_batch_end", seen)
        trainer = Trainer(max_epochs=1, enable_checkpointing=False, enable_model_summary=False, callbacks=[hook])
        trainer.fit(Returns(lambda loss: {"loss": loss, "preds": torch.zeros(4, 1)}), loader())
        assert trainer.global_step == 8
        assert all(out["preds"].shape == (4, 1) for out in outputs)
        assert all("preds" not in m and math.isfinite(m["loss"]) for m in metrics)
        assert "preds" not in trainer.callback_metrics and math.isfinite(trainer.callback_metrics["loss"])

    def test_returning_none_skips_the_batch(self):
        trainer = quiet(max_epochs=1)
        trainer.fit(Returns(lambda loss: None), loader())
        assert trainer.global_step == 0

    @pytest.mark.parametrize(("value", "message"), [
        (lambda loss: "oops", "Returns.training_step: returned str; return a scalar loss tensor, a dict with a scalar "
                              "tensor under 'loss', or None to skip the batch"),
        (lambda loss: {"mae": loss}, "Returns.training_step: returned a dict with no 'loss' key (keys: mae); return a "
                                     "scalar loss tensor or a dict with a scalar tensor under 'loss'"),
        (lambda loss: {"loss": 1.0}, "Returns.training_step: returned a dict with 'loss' of type float (keys: loss); "
                                     "return a scalar loss tensor or a dict with a scalar tensor under 'loss'"),
        (lambda loss: torch.ones(3), "Returns.training_step: returned a tensor of shape (3,); the loss must be a scalar"),
    ])
    def test_anything_else_is_a_clear_error(self, value, message):
        with pytest.raises(InvalidStepOutput) as info:
            quiet(max_epochs=1).fit(Returns(value), loader())
        assert str(info.value) == message


class TestOptimizers:
    def sched_module(self, returned):
        class Module(Regressor):
            def configure_optimizers(self):
                opt = torch.optim.SGD(self.parameters(), lr=1.0)
                return returned(opt, torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5))

        return Module()

    @pytest.mark.parametrize(("returned", "expected_lr"), [
        (lambda o, s: o, 1.0),
        (lambda o, s: [o], 1.0),
        (lambda o, s: ([o], [s]), 0.25),
        (lambda o, s: {"optimizer": o, "lr_scheduler": s}, 0.25),
        (lambda o, s: {"optimizer": o, "lr_scheduler": {"scheduler": s, "interval": "epoch", "frequency": 2}}, 0.5),
        (lambda o, s: [{"optimizer": o, "lr_scheduler": {"scheduler": s, "interval": "step"}}], 1.0 / 2**16),
    ], ids=["optimizer", "list", "two-lists", "dict", "dict-frequency", "list-of-dicts-step"])
    def test_every_lightning_return_form(self, returned, expected_lr):
        module = self.sched_module(returned)
        module.lr = 1.0
        trainer = quiet(max_epochs=2, num_sanity_val_steps=0)
        trainer.fit(module, loader())
        assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(expected_lr)

    def test_two_optimizers_are_refused(self):
        class Two(Regressor):
            def configure_optimizers(self):
                return [torch.optim.SGD(self.parameters(), lr=0.1), torch.optim.Adam(self.parameters())]

        with pytest.raises(MisconfigurationError, match="returned 2 optimizers; automatic optimization steps exactly one"):
            quiet(max_epochs=1).fit(Two(), loader())

    def test_reduce_on_plateau_reads_its_monitor(self):
        class Plateau(Regressor):
            def configure_optimizers(self):
                opt = torch.optim.SGD(self.parameters(), lr=0.01)
                sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0)
                return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val_loss"}}

        trainer = quiet(max_epochs=3, num_sanity_val_steps=0)
        trainer.fit(Plateau(), loader(), loader(n=16))
        assert trainer.lr_schedulers[0].last_epoch == 3


class TestLoop:
    def test_accumulation_steps_once_per_window_and_on_the_last_batch(self):
        trainer = quiet(max_epochs=2, accumulate_grad_batches=3)
        trainer.fit(Regressor(), loader())  # 8 batches: windows 3, 3, 2
        assert trainer.global_step == 6

    def test_limits_and_max_steps(self):
        trainer = quiet(max_epochs=5, limit_train_batches=0.5, max_steps=10)
        trainer.fit(Regressor(), loader())
        assert (trainer.global_step, trainer.current_epoch) == (10, 3)

    def test_val_check_interval_runs_validation_inside_the_epoch(self):
        ends = counter("validation_end")
        trainer = quiet(max_epochs=2, val_check_interval=0.25, num_sanity_val_steps=0, callbacks=[ends])
        trainer.fit(Regressor(), loader(), loader(n=16))
        assert trainer.dispatcher.state == 8

    def test_check_val_every_n_epoch(self):
        ends = counter("validation_end")
        trainer = quiet(max_epochs=5, check_val_every_n_epoch=2, num_sanity_val_steps=0, callbacks=[ends])
        trainer.fit(Regressor(), loader(), loader(n=16))
        assert trainer.dispatcher.state == 2

    def test_sanity_check_events_carry_their_stage_and_do_not_touch_callback_metrics(self):
        stages = []
        hook = on("validation_end", lambda e: stages.append((e.stage, dict(e.metrics))))
        trainer = quiet(max_epochs=1, num_sanity_val_steps=1, callbacks=[hook])
        trainer.fit(Regressor(), loader(), loader(n=16))
        assert [s for s, _ in stages] == ["sanity_check", "fit"]
        assert set(stages[0][1]) == {"val_loss"}
        assert set(stages[1][1]) == {"val_loss"}  # the training epoch's "loss" arrives at train_epoch_end

    def test_min_epochs_holds_back_a_stop(self):
        stop = on("train_epoch_end", lambda e: Stop("now"))
        trainer = quiet(max_epochs=10, min_epochs=3, callbacks=[stop])
        trainer.fit(Regressor(), loader())
        assert trainer.current_epoch == 3 and trainer.stop_reason == "now; now; now"

    def test_max_time_adds_a_timer_that_stops_the_run(self):
        trainer = quiet(max_epochs=1000, max_time={"seconds": 0})
        trainer.fit(Regressor(), loader())
        assert repr(trainer.callbacks[-1]) == "timer(datetime.timedelta(0))"
        assert trainer.global_step == 0 and trainer.stop_reason.startswith("Time limit reached.")

    def test_gradient_clipping_bounds_each_update(self):
        class Big(Regressor):
            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=1.0)

        module = Big()
        before = torch.cat([p.detach().flatten().clone() for p in module.parameters()])
        quiet(max_epochs=1, limit_train_batches=1, gradient_clip_val=0.01).fit(module, loader())
        after = torch.cat([p.detach().flatten().cpu() for p in module.parameters()])  # fit leaves it on its device
        assert (after - before).norm() == pytest.approx(0.01, rel=1e-4)

    def test_bf16_mixed_precision_trains_on_cpu(self):
        trainer = quiet(max_epochs=1, precision="bf16-mixed", accelerator="cpu")
        trainer.fit(Regressor(), loader())
        assert trainer.global_step == 8 and math.isfinite(trainer.callback_metrics["loss"])

    def test_seed_makes_runs_repeatable(self):
        weights = []
        for _ in range(2):
            module = Regressor()
            quiet(max_epochs=1, seed=3).fit(module, loader(shuffle=True))
            weights.append(module.net[0].weight.detach().clone())
        assert torch.equal(*weights)


class TestLogging:
    class Logs(Regressor):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            self.log("train_loss", loss)
            self.log("train_loss_mean", loss, on_step=False, on_epoch=True)
            return loss

        def validation_step(self, batch, batch_idx):
            out = super().validation_step(batch, batch_idx)
            self.log("val_mae", out["val_loss"].sqrt())
            return out

        def on_validation_epoch_end(self):
            self.log("from_hook", 1.5)

    def test_log_reaches_callback_metrics_and_hooks(self):
        seen = {}
        hook = lambda_hook(on_train_epoch_end=lambda e: seen.update(e.metrics))
        trainer = quiet(max_epochs=1, num_sanity_val_steps=0, callbacks=[hook])
        trainer.fit(self.Logs(), loader(), loader(n=16))
        assert set(seen) == {"loss", "train_loss", "train_loss_mean", "val_loss", "val_mae", "from_hook"}
        assert seen["from_hook"] == 1.5

    def test_log_effects_go_to_the_logger_and_logged_metrics(self):
        class Recorder:
            def __init__(self):
                self.calls = []

            def log_metrics(self, metrics, step):
                self.calls.append((dict(metrics), step))

        logger = Recorder()
        hook = every_n(4, on("train_batch_end", lambda e: Log({"seen_loss": e.metrics["loss"]})))
        trainer = quiet(max_epochs=1, callbacks=[hook], logger=logger, log_every_n_steps=0)
        trainer.fit(Regressor(), loader())
        assert [step for _, step in logger.calls] == [3, 7]  # Lightning's step: optimizer steps before the batch
        assert trainer.logged_metrics["seen_loss"] == logger.calls[-1][0]["seen_loss"]

    def test_module_attributes_are_removed_after_the_run(self):
        module = self.Logs()
        quiet(max_epochs=1).fit(module, loader())
        assert not hasattr(module, "trainer") and "log" not in module.__dict__


class TestEffects:
    def test_the_decision_log_says_why_and_when_the_run_stopped(self):
        stop = on("train_epoch_end", lambda e: Stop("enough") if e.epoch == 1 else None)
        trainer = quiet(max_epochs=5, callbacks=[stop])
        trainer.fit(Regressor(), loader())
        (decision,) = trainer.decisions
        assert decision.effect == Stop("enough")
        assert (decision.event.kind, decision.event.epoch, decision.event.step) == ("train_epoch_end", 1, 16)
        assert str(decision) == "train_epoch_end (epoch 1, step 16): Stop('enough')"

    def test_set_learning_rates_and_accumulation(self):
        hooks = [on("train_epoch_start", lambda e: [SetLearningRates((0.5,)), SetAccumulation(4)] if e.epoch == 1 else None)]
        trainer = quiet(max_epochs=2, callbacks=hooks)
        trainer.fit(Regressor(), loader())
        assert trainer.optimizers[0].param_groups[0]["lr"] == 0.5
        assert trainer.global_step == 8 + 2

    def test_raise_effect_raises_and_fires_the_exception_event(self):
        seen = []
        hooks = [on("train_batch_end", lambda e: Raise(ValueError("bad batch")) if e.step == 3 else None),
                 on("exception", lambda e: seen.append(type(e.data).__name__))]
        with pytest.raises(ValueError, match="bad batch"):
            quiet(max_epochs=1, callbacks=hooks).fit(Regressor(), loader())
        assert seen == ["ValueError"]

    def test_several_instances_of_one_hook_keep_separate_state(self):
        a, b = counter("train_batch_end"), counter("train_batch_end")
        trainer = quiet(max_epochs=1, callbacks=[a, every_n(2, b), a])
        trainer.fit(Regressor(), loader())
        assert trainer.dispatcher.state[0] == 8 and trainer.dispatcher.state[1].inner == 4 and trainer.dispatcher.state[2] == 8


class TestClassCallbacks:
    def test_callback_methods_get_lightnings_arguments(self):
        calls = []

        class Spy(Callback):
            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                calls.append((type(trainer).__name__, type(pl_module).__name__, sorted(outputs), len(batch), batch_idx))

            def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
                calls.append(("val", sorted(outputs), dataloader_idx))

        quiet(max_epochs=1, limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=0,
              callbacks=[Spy()]).fit(Regressor(), loader(), loader(n=16))
        assert calls == [("Trainer", "Regressor", ["loss"], 2, 0), ("Trainer", "Regressor", ["loss"], 2, 1),
                         ("val", ["val_loss"], 0)]

    def test_lightning_style_should_stop_and_lambda_callback(self):
        def stop(trainer, pl_module):
            if trainer.current_epoch == 2:
                trainer.should_stop = True

        trainer = quiet(max_epochs=10, callbacks=[LambdaCallback(on_train_epoch_end=stop)])
        trainer.fit(Regressor(), loader())
        assert trainer.current_epoch == 3

    def test_user_callback_state_dict_is_checkpointed_and_restored(self, tmp_path):
        class Counting(Callback):
            def __init__(self):
                self.batches = 0

            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                self.batches += 1
                if trainer.global_step == 5:
                    trainer.save_checkpoint(tmp_path / "five.ckpt")

            def state_dict(self):
                return {"batches": self.batches}

            def load_state_dict(self, state):
                self.batches = state["batches"]

        quiet(max_epochs=1, callbacks=[Counting()]).fit(Regressor(), loader())
        resumed = Counting()
        quiet(max_epochs=1, callbacks=[resumed]).fit(Regressor(), loader(), ckpt_path=tmp_path / "five.ckpt")
        assert resumed.batches == 8


class TestEvaluation:
    def test_validate_test_predict(self):
        module = Regressor()
        trainer = quiet()
        (val,) = trainer.validate(module, loader(n=16))
        (test,) = trainer.test(module, loader(n=16))
        predictions = trainer.predict(module, loader(n=16, batch_size=4))
        assert set(val) == {"val_loss"} and set(test) == {"test_loss"}
        assert len(predictions) == 4 and predictions[0].shape == (4, 1)

    def test_test_without_test_step(self):
        class NoTest(torch.nn.Module):
            pass

        with pytest.raises(MisconfigurationError, match="Trainer.test: NoTest has no test_step method"):
            quiet().test(NoTest(), loader())


class TestArguments:
    @pytest.mark.parametrize(("kwargs", "message"), [
        (dict(max_time="1:00"), "Trainer: max_time='1:00'; accepted: 'DD:HH:MM:SS' (e.g. '00:12:00:00'), "
                                "a datetime.timedelta, or a dict like {'hours': 12}"),
        (dict(limit_train_batches=1.5), "Trainer: limit_train_batches=1.5 must be an int >= 0 or a float in [0, 1]"),
        (dict(precision="64"), "Trainer: precision='64'; accepted: '32-true' (or '32'), 'bf16-mixed', '16-mixed'"),
        (dict(accumulate_grad_batches=0), "Trainer: accumulate_grad_batches=0 must be an int >= 1"),
        (dict(val_check_interval=0.0), "Trainer: val_check_interval=0.0 must be a float in (0, 1] or an int >= 1"),
        (dict(accelerator="tpu"), "Trainer: accelerator='tpu'; accepted: 'auto', 'cpu', 'cuda' (or 'gpu')"),
        (dict(callbacks=[42]), "Trainer: callbacks[0]: expected a hook (an object with init, step and kinds, e.g. from "
                               "lambda_hook or a Callback), got 42"),
    ])
    def test_bad_arguments_fail_at_construction(self, kwargs, message):
        with pytest.raises(InvalidArgument) as info:
            Trainer(**kwargs)
        assert str(info.value) == message

    @pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only message")
    def test_fp16_needs_cuda(self):
        with pytest.raises(InvalidArgument, match="precision='16-mixed' needs a CUDA device; use precision='bf16-mixed'"):
            Trainer(precision="16-mixed")

    def test_missing_data_and_optimizers(self):
        with pytest.raises(MisconfigurationError, match="no training data; pass train_dataloaders"):
            quiet(max_epochs=1).fit(Regressor())

        class NoOpt(torch.nn.Module):
            def training_step(self, batch, batch_idx):
                return torch.tensor(0.0)

        with pytest.raises(MisconfigurationError, match="NoOpt has no configure_optimizers method"):
            quiet(max_epochs=1).fit(NoOpt(), loader())


class TestFastDevRun:
    @pytest.mark.parametrize(("value", "steps"), [(True, 1), (3, 3)])
    def test_runs_n_batches_of_each_stage_once(self, value, steps):
        ends = counter("validation_batch_end")
        trainer = quiet(fast_dev_run=value, max_epochs=10, callbacks=[ends])
        trainer.fit(Regressor(), loader(), loader(n=16, batch_size=2))
        assert (trainer.global_step, trainer.current_epoch, trainer.dispatcher.state) == (steps, 1, steps)
