"""TensorBoardLogger: event files read back with tensorboard's own reader; a clear error without tensorboard."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from fhooks import Trainer
from fhooks.loggers import TensorBoardLogger
from fhooks.loggers import tensorboard as tb_module
from tests.models import Regressor, loader

needs_tensorboard = pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None,
                                       reason="tensorboard is not installed")


def read_events(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir))
    events.Reload()
    return events


def scalars(events, tag):
    return [(e.step, e.value) for e in events.Scalars(tag)]


def test_missing_tensorboard_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(tb_module, "tensorboard_available", lambda: False)
    with pytest.raises(ModuleNotFoundError) as info:
        TensorBoardLogger(tmp_path)
    assert str(info.value) == ("TensorBoardLogger: the tensorboard package is not installed; "
                               "pip install 'fhooks[tensorboard]' (or pip install tensorboard), or use CSVLogger")


@needs_tensorboard
class TestTensorBoardLogger:
    def test_scalars_read_back(self, tmp_path):
        import torch

        logger = TensorBoardLogger(tmp_path, name="exp", prefix="run")
        logger.log_metrics({"loss": 0.5, "acc": torch.tensor(0.25)}, step=1)
        logger.log_metrics({"loss": 0.125}, step=2)
        logger.log_metrics({"pair": {"a": 1.0, "b": 2.0}}, step=3)
        logger.finalize("success")
        events = read_events(logger.log_dir)
        assert Path(logger.log_dir) == tmp_path / "exp" / "version_0"
        assert scalars(events, "run-loss") == [(1, 0.5), (2, 0.125)]
        assert scalars(events, "run-acc") == [(1, 0.25)]
        assert {Path(p).name for p in (Path(logger.log_dir)).iterdir() if p.is_dir()} == {"run-pair_a", "run-pair_b"}

    def test_hyperparams(self, tmp_path):
        logger = TensorBoardLogger(tmp_path)
        logger.log_hyperparams({"lr": 0.1, "opt": {"name": "sgd"}, "layers": [4, 8]})
        logger.finalize("success")
        events = read_events(logger.log_dir)
        assert scalars(events, "hp_metric") == [(0, -1.0)]
        assert "hparams.yaml" in {p.name for p in Path(logger.log_dir).iterdir()}
        plugin = events.PluginTagToContent("hparams")
        assert "_hparams_/session_start_info" in plugin

    def test_no_hp_metric(self, tmp_path):
        logger = TensorBoardLogger(tmp_path, default_hp_metric=False)
        logger.log_hyperparams({"lr": 0.1})
        assert logger.hparams == {"lr": 0.1} and logger._writer is None  # nothing to write without a metric

    def test_bad_value(self, tmp_path):
        logger = TensorBoardLogger(tmp_path)
        with pytest.raises(TypeError) as info:
            logger.log_metrics({"name": "mlp"}, 0)
        assert str(info.value) == ("TensorBoardLogger: cannot log name='mlp'; log a number, a scalar tensor "
                                   "or a dict of them")
        logger.finalize("failed")

    def test_a_run(self, tmp_path):
        class Logging(Regressor):
            def training_step(self, batch, batch_idx):
                loss = super().training_step(batch, batch_idx)
                self.log("train_loss", loss)
                return loss

        logger = TensorBoardLogger(tmp_path)
        trainer = Trainer(max_epochs=2, logger=logger, log_every_n_steps=1, enable_progress_bar=False,
                          enable_model_summary=False, enable_checkpointing=False)
        trainer.fit(Logging(), loader(32, 8), loader(16, 8))
        logger.finalize("success")
        events = read_events(logger.log_dir)
        # Lightning's steps: the optimizer steps taken before the logging batch
        assert [s for s, _ in scalars(events, "train_loss")] == list(range(8))
        assert [s for s, _ in scalars(events, "val_loss")] == [3, 7]
        assert scalars(events, "val_loss")[-1][1] == pytest.approx(trainer.callback_metrics["val_loss"])
