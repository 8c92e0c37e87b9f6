"""What a Trainer adds by itself, as Lightning does: a bar, a summary, a checkpoint, a CSV logger, and their lifecycle."""

from __future__ import annotations

import csv

import pytest
import torch

from fhooks import Log, Trainer, on, stateful
from fhooks.callbacks import (
    ModelCheckpoint,
    ModelSummary,
    RichModelSummary,
    RichProgressBar,
    Timer,
    TQDMProgressBar,
)
from fhooks.core.events import RunInfo
from fhooks.errors import InvalidArgument, MisconfigurationError
from fhooks.loggers import CSVLogger
from fhooks.trainer.checkpoint_files import LEDGER
from tests.models import Regressor, loader


def kinds(trainer: Trainer) -> list[str]:
    return [type(c).__name__ for c in trainer.callbacks]


class Recorder:
    """A logger that writes down every call the trainer makes on it."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def log_metrics(self, metrics, step):
        self.calls.append(("log_metrics", dict(metrics), step))

    def log_hyperparams(self, params):
        self.calls.append(("log_hyperparams", dict(params)))

    def save(self):
        self.calls.append(("save",))

    def finalize(self, status):
        self.calls.append(("finalize", status))

    def names(self) -> list[str]:
        return [call[0] for call in self.calls]


class TestDefaultCallbacks:
    def test_lightnings_defaults_in_lightnings_order(self):
        assert kinds(Trainer()) == ["TQDMProgressBar", "ModelSummary", "ModelCheckpoint"]
        assert kinds(Trainer(max_time="00:00:01:00")) == ["TimerHook", "TQDMProgressBar", "ModelSummary", "ModelCheckpoint"]

    def test_the_user_callbacks_come_first(self):
        mine = on("train_end", lambda e: None)
        assert Trainer(callbacks=[mine]).callbacks[0] is mine

    def test_everything_off_adds_nothing(self):
        trainer = Trainer(enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
        assert trainer.callbacks == []

    def test_a_given_bar_replaces_the_default_one(self):
        bar = TQDMProgressBar(refresh_rate=5)
        trainer = Trainer(callbacks=[bar], enable_checkpointing=False)
        assert kinds(trainer) == ["TQDMProgressBar", "ModelSummary"] and trainer.callbacks[0] is bar

    def test_a_rich_bar_brings_the_rich_summary(self):
        trainer = Trainer(callbacks=[RichProgressBar()], enable_checkpointing=False)
        assert kinds(trainer) == ["RichProgressBar", "RichModelSummary"]

    def test_a_given_summary_is_kept_and_not_doubled(self):
        summary = ModelSummary(max_depth=2)
        trainer = Trainer(callbacks=[summary], enable_checkpointing=False, enable_progress_bar=False)
        assert trainer.callbacks == [summary]
        trainer = Trainer(callbacks=[RichModelSummary()], enable_checkpointing=False, enable_progress_bar=False)
        assert kinds(trainer) == ["RichModelSummary"]

    def test_a_given_timer_is_not_doubled(self):
        trainer = Trainer(callbacks=[Timer("00:00:00:10")], max_time="00:00:01:00", enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False)
        assert kinds(trainer) == ["Timer"]

    def test_a_bar_with_the_bar_turned_off_is_refused(self):
        with pytest.raises(MisconfigurationError, match=r"enable_progress_bar=False but TQDMProgressBar\(\) is in callbacks"):
            Trainer(callbacks=[TQDMProgressBar()], enable_progress_bar=False)

    def test_two_bars_are_refused(self):
        with pytest.raises(MisconfigurationError, match="2 progress bars in callbacks"):
            Trainer(callbacks=[TQDMProgressBar(), RichProgressBar()])

    def test_a_checkpoint_callback_with_checkpointing_off_is_refused(self):
        with pytest.raises(MisconfigurationError, match="enable_checkpointing=False but a checkpoint callback"):
            Trainer(callbacks=[ModelCheckpoint()], enable_checkpointing=False)


class TestADefaultRun:
    """``Trainer(max_epochs=2).fit(...)`` with nothing turned off: what lands on disk and on screen."""

    @pytest.fixture
    def run(self, tmp_path, capsys):
        trainer = Trainer(max_epochs=2, default_root_dir=tmp_path)
        trainer.fit(Regressor(), loader(), loader(n=16))
        return trainer, capsys.readouterr().out

    def test_files_land_where_lightning_puts_them(self, run, tmp_path):
        trainer, _ = run
        version = tmp_path / "lightning_logs" / "version_0"
        assert trainer.log_dir == str(version)
        assert sorted(p.name for p in version.iterdir()) == ["checkpoints", "metrics.csv"]  # no hparams: no yaml
        assert [p.name for p in (version / "checkpoints").iterdir() if p.name != LEDGER] == ["epoch=1-step=16.ckpt"]

    def test_metrics_csv_has_a_row_per_validation_with_epoch_and_step(self, run, tmp_path):
        with open(tmp_path / "lightning_logs" / "version_0" / "metrics.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert [(r["epoch"], r["step"]) for r in rows] == [("0", "7"), ("1", "15")]
        assert all(float(r["val_loss"]) > 0 for r in rows)

    def test_the_summary_and_the_bar_are_printed(self, run):
        _, out = run
        assert "| Name | Type       | Params | Mode" in out
        assert "97        Trainable params" in out
        # pytest's captured stdout is not a terminal: the bar degrades to plain lines, one per finished stage
        assert "Epoch 0: 8/8" in out and "Epoch 1: 8/8" in out and "Validation: 2/2" in out

    def test_a_second_run_in_the_same_folder_takes_the_next_version(self, run, tmp_path):
        trainer = Trainer(max_epochs=1, default_root_dir=tmp_path, enable_progress_bar=False, enable_model_summary=False)
        trainer.fit(Regressor(), loader())
        assert trainer.log_dir == str(tmp_path / "lightning_logs" / "version_1")

    def test_the_decision_log_keeps_checkpoints_but_not_bar_renders(self, run):
        trainer, _ = run
        assert [type(d.effect).__name__ for d in trainer.decisions] == [
            "Do", "RenderSummary", "SaveCheckpoint", "SaveCheckpoint", "RemoveCheckpoint"]  # Do: the bar meets the trainer


class TestLoggerArgument:
    def test_none_and_true_give_a_csv_logger_in_the_root_dir(self, tmp_path):
        for value in (None, True):
            (logger,) = Trainer(logger=value, default_root_dir=tmp_path).loggers
            assert isinstance(logger, CSVLogger) and logger.save_dir == str(tmp_path)

    def test_false_gives_none_and_checkpoints_go_to_the_root_dir(self, tmp_path):
        trainer = Trainer(logger=False, max_epochs=1, default_root_dir=tmp_path, enable_progress_bar=False,
                          enable_model_summary=False)
        trainer.fit(Regressor(), loader())
        assert trainer.logger is None and trainer.log_dir == str(tmp_path)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints"]

    def test_one_logger_or_a_list(self):
        a, b = Recorder(), Recorder()
        assert Trainer(logger=a).loggers == [a]
        assert Trainer(logger=[a, b]).loggers == [a, b] and Trainer(logger=[a, b]).logger is a

    def test_something_that_cannot_log_is_refused(self):
        with pytest.raises(InvalidArgument, match=r"logger='csv' has no log_metrics method; accepted: None or True"):
            Trainer(logger="csv")
        with pytest.raises(InvalidArgument, match=r"logger\[1\]=3 has no log_metrics method"):
            Trainer(logger=[Recorder(), 3])

    def test_fast_dev_run_logs_nothing(self):
        assert Trainer(fast_dev_run=True).loggers == []


def quiet(**kwargs) -> Trainer:
    return Trainer(enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False, **kwargs)


class TestLoggerLifecycle:
    class WithHparams(Regressor):
        hparams = {"lr": 0.01, "hidden": 16}

        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            self.log("train_loss", loss)
            return loss

    def test_hparams_then_metrics_then_success(self):
        logger = Recorder()
        quiet(logger=logger, max_epochs=1, log_every_n_steps=4).fit(self.WithHparams(), loader())
        assert logger.calls[:2] == [("log_hyperparams", {"lr": 0.01, "hidden": 16}), ("save",)]
        assert logger.calls[-1] == ("finalize", "success")
        assert logger.names()[2:-1] == ["log_metrics", "save"] * 2  # steps 4 and 8: a save after each row

    def test_rows_without_a_step_get_the_global_step_and_the_epoch(self):
        logger = Recorder()
        quiet(logger=logger, max_epochs=2, log_every_n_steps=4).fit(self.WithHparams(), loader())
        rows = [(sorted(call[1]), call[1]["epoch"], call[2]) for call in logger.calls if call[0] == "log_metrics"]
        # Lightning's step column: the optimizer steps taken before the logging batch (the 4th batch says 3)
        assert rows == [(["epoch", "train_loss"], 0, 3), (["epoch", "train_loss"], 0, 7),
                        (["epoch", "train_loss"], 1, 11), (["epoch", "train_loss"], 1, 15)]

    def test_ints_stay_ints_and_tensors_become_numbers(self):
        logger = Recorder()
        hook = on("train_end", lambda e: Log({"count": 3, "loss": torch.tensor(0.25), "best": torch.tensor(7)}, step=1))
        quiet(logger=logger, max_epochs=1, callbacks=[hook]).fit(Regressor(), loader())
        (row,) = [call for call in logger.calls if call[0] == "log_metrics"]
        assert row == ("log_metrics", {"count": 3, "loss": 0.25, "best": 7}, 1)
        assert [type(v) for v in row[1].values()] == [int, float, int]

    def test_a_module_without_hparams_logs_none(self):
        logger = Recorder()  # as Lightning: log_hyperparams only once a module saved hyperparameters
        quiet(logger=logger, max_epochs=1).fit(Regressor(), loader())
        assert logger.calls[0] == ("save",) and "log_hyperparams" not in logger.names()

    def test_a_failed_run_is_finalized_as_failed(self):
        class Boom(Regressor):
            def training_step(self, batch, batch_idx):
                raise RuntimeError("boom")

        logger = Recorder()
        with pytest.raises(RuntimeError, match="boom"):
            quiet(logger=logger, max_epochs=1).fit(Boom(), loader())
        assert logger.calls[-1] == ("finalize", "failed")

    def test_validate_test_and_predict_finalize_too(self):
        for method in ("validate", "test", "predict"):
            logger = Recorder()
            getattr(quiet(logger=logger), method)(Regressor(), loader(n=16))
            assert logger.calls[-1] == ("finalize", "success"), method

    def test_a_logger_needs_only_log_metrics(self):
        class Minimal:
            def __init__(self):
                self.rows = []

            def log_metrics(self, metrics, step):
                self.rows.append(step)

        logger = Minimal()
        quiet(logger=logger, max_epochs=1, log_every_n_steps=4).fit(self.WithHparams(), loader())
        assert logger.rows == [3, 7]


def recorder(kinds: str):
    """A hook keeping the RunInfo of each ``setup``/``fit_start`` event it hears."""
    return stateful((), lambda seen, e: (seen + ((e.kind, e.stage, e.data),), None), kinds=kinds, name="infos")


class TwoLoaders(Regressor):
    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        return super().validation_step(batch, batch_idx)

    def test_step(self, batch, batch_idx, dataloader_idx=0):
        return super().test_step(batch, batch_idx)


class TestRunInfo:
    def test_setup_comes_before_configure_optimizers_and_fit_start_after(self):
        order = []

        class Tracked(Regressor):
            def configure_optimizers(self):
                order.append("configure_optimizers")
                return super().configure_optimizers()

        hook = on(("setup", "fit_start"), lambda e: order.append(e.kind))
        quiet(max_epochs=1, callbacks=[hook]).fit(Tracked(), loader())
        assert order == ["setup", "configure_optimizers", "fit_start"]

    def test_fit_start_knows_the_optimizers_and_the_sanity_batches(self):
        trainer = quiet(max_epochs=1, num_sanity_val_steps=3, callbacks=[recorder(("setup", "fit_start"))])
        trainer.fit(TwoLoaders(), loader(), [loader(n=16), loader(n=40)])
        (_, _, setup), (_, _, start) = trainer.dispatcher.state
        assert (setup.optimizers, [o.name for o in start.optimizers]) == ((), ["SGD"])
        assert (start.num_training_batches, start.num_val_batches, start.num_sanity_val_batches) == (8, 7, 2 + 3)

    @pytest.mark.parametrize(("method", "field"), [("validate", "num_val_batches"), ("test", "num_test_batches"),
                                                   ("predict", "num_predict_batches")])
    def test_evaluation_stages_know_their_totals(self, method, field):
        trainer = quiet(callbacks=[recorder("setup")], limit_test_batches=1, limit_predict_batches=0.5)
        getattr(trainer, method)(TwoLoaders(), [loader(n=16), loader(n=32)])
        ((_, stage, info),) = trainer.dispatcher.state
        assert isinstance(info, RunInfo)
        assert (stage, getattr(info, field)) == (method, {"validate": 6, "test": 2, "predict": 3}[method])

    def test_an_iterable_of_unknown_length_has_an_unknown_test_total(self):
        batches = iter(list(loader(n=16)))
        trainer = quiet(callbacks=[recorder("setup")])
        trainer.test(Regressor(), batches)
        assert trainer.dispatcher.state[0][2].num_test_batches is None

    def test_the_exception_event_names_the_failing_batch(self):
        class FailsAtThird(Regressor):
            def training_step(self, batch, batch_idx):
                if batch_idx == 2:
                    raise RuntimeError("third batch")
                return super().training_step(batch, batch_idx)

        seen = stateful((), lambda idx, e: (idx + (e.batch_idx,), None), kinds="exception", name="exception_batch")
        trainer = quiet(max_epochs=1, callbacks=[seen])
        with pytest.raises(RuntimeError):
            trainer.fit(FailsAtThird(), loader())
        assert trainer.dispatcher.state == (2,)


class TestMetricsBetweenRuns:
    def test_each_evaluation_run_starts_with_no_metrics_as_lightning(self):
        trainer = quiet(max_epochs=1, logger=Recorder())
        module = Regressor()
        trainer.fit(module, loader(), loader(n=16))
        assert sorted(trainer.callback_metrics) == ["loss", "val_loss"]
        trainer.validate(module, loader(n=16))
        assert sorted(trainer.callback_metrics) == sorted(trainer.logged_metrics) == ["val_loss"]
        trainer.test(module, loader(n=16))
        assert sorted(trainer.callback_metrics) == sorted(trainer.logged_metrics) == ["test_loss"]
        assert trainer.global_step == 8  # counters are kept

    def test_logged_metrics_fill_without_a_logger_and_carry_no_epoch_column(self):
        class Logs(Regressor):
            def training_step(self, batch, batch_idx):
                loss = super().training_step(batch, batch_idx)
                self.log("train_loss", loss)
                return loss

        trainer = quiet(max_epochs=1, logger=False, log_every_n_steps=1)
        trainer.fit(Logs(), loader(), loader(n=16))
        assert sorted(trainer.logged_metrics) == ["train_loss", "val_loss"]  # as Lightning's


class TestCheckpointsAlreadyOnDisk:
    def test_a_second_run_in_the_same_folder_versions_its_files_and_loses_none(self, tmp_path):
        def run():
            checkpoint = ModelCheckpoint(dirpath=str(tmp_path / "ckpts"), save_last=True)
            Trainer(callbacks=[checkpoint], max_epochs=1, logger=False, enable_progress_bar=False,
                    enable_model_summary=False).fit(Regressor(), loader())
            return checkpoint

        first = run()
        before = {p.name: p.read_bytes() for p in (tmp_path / "ckpts").iterdir() if p.name != LEDGER}
        second = run()
        names = sorted(p.name for p in (tmp_path / "ckpts").iterdir() if p.name != LEDGER)
        assert names == ["epoch=0-step=8-v1.ckpt", "epoch=0-step=8.ckpt", "last-v1.ckpt", "last.ckpt"]  # Lightning's
        assert all((tmp_path / "ckpts" / name).read_bytes() == data for name, data in before.items())
        assert (first.best_model_path, second.best_model_path) == (
            str(tmp_path / "ckpts" / "epoch=0-step=8.ckpt"), str(tmp_path / "ckpts" / "epoch=0-step=8-v1.ckpt"))

    def test_resuming_keeps_managing_the_files_of_the_run_it_resumes(self, tmp_path):
        folder = tmp_path / "ckpts"

        def run(max_epochs, ckpt_path=None):
            checkpoint = ModelCheckpoint(dirpath=str(folder), save_last=True)
            Trainer(callbacks=[checkpoint], max_epochs=max_epochs, logger=False, enable_progress_bar=False,
                    enable_model_summary=False).fit(Regressor(), loader(), ckpt_path=ckpt_path)

        run(1)
        run(2, ckpt_path=folder / "last.ckpt")
        assert sorted(p.name for p in folder.iterdir() if p.name != LEDGER) == ["epoch=1-step=16.ckpt", "last.ckpt"]


class TestLogArguments:
    class Logs(Regressor):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            self.log("shown", loss, prog_bar=True)
            self.log("private", loss * 2, logger=False)
            self.log("both", loss, on_step=True, on_epoch=True, prog_bar=True, logger=False)
            return loss

    def test_logger_false_stays_out_of_the_loggers_and_prog_bar_is_listed(self):
        logger = Recorder()
        trainer = quiet(max_epochs=1, logger=logger, log_every_n_steps=4)
        trainer.fit(self.Logs(), loader())
        logged = {key for call in logger.calls if call[0] == "log_metrics" for key in call[1]}
        assert logged == {"shown", "epoch"}
        assert {"private", "both", "both_step"} <= set(trainer.callback_metrics)  # still seen by hooks
        assert sorted(trainer.progress_bar_metrics) == ["both_epoch", "both_step", "shown"]  # forked, as Lightning
        assert trainer.progress_bar_metrics["shown"] == trainer.callback_metrics["shown"]
