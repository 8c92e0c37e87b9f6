"""CSVLogger: Lightning's metrics.csv layout (checked against Lightning's own logger), hparams.yaml, run folders."""

from __future__ import annotations

import csv
import importlib.util
import os
import sys
from argparse import Namespace
from pathlib import Path

import pytest
import torch

from fhooks import Trainer
from fhooks.errors import InvalidArgument
from fhooks.loggers import CSVLogger
from fhooks.loggers.csv_logger import to_yaml
from tests.models import Regressor, loader

HAS_YAML = importlib.util.find_spec("yaml") is not None


def read_rows(path: str | os.PathLike[str]) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


CALLS = [  # (metrics, step, save afterwards)
    ({"loss": 0.5}, 0, False),
    ({"loss": 0.25, "lr": 0.1}, 1, True),          # a new key after a save: the header is rewritten
    ({"val_loss": 1.5, "epoch": 0}, 1, False),
    ({"loss": float("nan")}, 2, True),
    ({"b": 3, "a": -1.0}, 3, True),               # keys sort before "loss" and "step"
    ({"loss": torch.tensor(0.125)}, 4, True),       # tensors are written through .item()
]


class TestLayout:
    def test_rows_header_and_blanks(self, tmp_path):
        logger = CSVLogger(tmp_path)
        logger.log_metrics({"loss": 0.5}, step=0)
        logger.log_metrics({"val_loss": 0.25, "epoch": 0}, step=1)
        logger.save()
        assert Path(logger.metrics_file_path).read_text().splitlines() == [
            "epoch,loss,step,val_loss", ",0.5,0,", "0,,1,0.25"]

    def test_same_file_as_lightning_csv_logger(self, tmp_path):
        lightning_loggers = pytest.importorskip("lightning.pytorch.loggers")
        ours, theirs = CSVLogger(tmp_path / "ours"), lightning_loggers.CSVLogger(tmp_path / "theirs")
        for metrics, step, save in CALLS:
            for logger in (ours, theirs):
                logger.log_metrics(dict(metrics), step)
                if save:
                    logger.save()
        assert Path(ours.log_dir).relative_to(tmp_path / "ours") == Path(theirs.log_dir).relative_to(tmp_path / "theirs")
        ours_text = (Path(ours.log_dir) / "metrics.csv").read_text()
        assert ours_text == (Path(theirs.log_dir) / "metrics.csv").read_text()
        assert ours_text.splitlines()[0] == "a,b,epoch,loss,lr,step,val_loss"

    def test_step_none_counts_rows(self, tmp_path):
        logger = CSVLogger(tmp_path)
        for value in (1.0, 2.0, 3.0):
            logger.log_metrics({"x": value})
        logger.save()
        assert [r["step"] for r in read_rows(logger.metrics_file_path)[1]] == ["0", "1", "2"]

    def test_prefix_joins_with_a_dash(self, tmp_path):
        logger = CSVLogger(tmp_path, prefix="train")
        logger.log_metrics({"loss": 1.0}, 0)
        logger.save()
        assert read_rows(logger.metrics_file_path)[0] == ["step", "train-loss"]

    @pytest.mark.parametrize("every, written", [(1, 2), (2, 2), (3, 0)])
    def test_rows_are_written_every_n_steps(self, tmp_path, every, written):
        logger = CSVLogger(tmp_path, flush_logs_every_n_steps=every)
        logger.log_metrics({"x": 1.0}, 0)
        logger.log_metrics({"x": 2.0}, 1)
        rows = read_rows(logger.metrics_file_path)[1] if os.path.exists(logger.metrics_file_path) else []
        assert len(rows) == written

    def test_finalize_writes_the_rest(self, tmp_path):
        logger = CSVLogger(tmp_path)
        logger.log_metrics({"x": 1.0}, 0)
        assert not os.path.exists(logger.metrics_file_path)
        logger.finalize("success")
        assert read_rows(logger.metrics_file_path)[1] == [{"step": "0", "x": "1.0"}]

    def test_an_old_metrics_file_is_replaced_with_a_warning(self, tmp_path):
        first = CSVLogger(tmp_path, version=3)
        first.log_metrics({"old": 1.0}, 0)
        first.save()
        second = CSVLogger(tmp_path, version=3)
        with pytest.warns(UserWarning, match="exists from an earlier run; it will be replaced"):
            second.log_metrics({"new": 2.0}, 0)
        second.save()
        assert read_rows(second.metrics_file_path)[0] == ["new", "step"]


class TestRunFolders:
    def test_versions_count_up(self, tmp_path):
        paths = []
        for _ in range(3):
            logger = CSVLogger(tmp_path, name="exp")
            logger.log_metrics({"x": 1.0}, 0)
            paths.append(Path(logger.log_dir).relative_to(tmp_path).as_posix())
        assert paths == ["exp/version_0", "exp/version_1", "exp/version_2"]
        assert logger.version == 2 and logger.name == "exp" and logger.save_dir == str(tmp_path)
        assert logger.root_dir == os.path.join(str(tmp_path), "exp")

    def test_gaps_and_stray_folders(self, tmp_path):
        for name in ("version_4", "version_x", "other"):
            (tmp_path / "lightning_logs" / name).mkdir(parents=True)
        (tmp_path / "lightning_logs" / "version_9").write_text("a file, not a run")
        assert CSVLogger(tmp_path).version == 5

    @pytest.mark.parametrize("name, version, expected", [
        (None, None, "version_0"), ("", 7, "version_7"), ("exp", "final", "exp/final"), ("exp", 0, "exp/version_0")])
    def test_log_dir(self, tmp_path, name, version, expected):
        assert Path(CSVLogger(tmp_path, name=name, version=version).log_dir) == tmp_path / expected

    @pytest.mark.parametrize("kwargs, message", [
        ({"flush_logs_every_n_steps": 0}, "CSVLogger: flush_logs_every_n_steps=0 must be a positive int"),
        ({"version": 1.5}, "CSVLogger: version=1.5 must be None, an int or a string"),
    ])
    def test_bad_arguments(self, tmp_path, kwargs, message):
        with pytest.raises(InvalidArgument) as info:
            CSVLogger(tmp_path, **kwargs)
        assert str(info.value) == message


class TestHparams:
    PARAMS = {"lr": 0.01, "layers": [4, 8], "name": "mlp", "opt": {"momentum": 0.9, "nesterov": True},
              "dropout": None, "tag": "yes"}

    @pytest.mark.skipif(not HAS_YAML, reason="PyYAML is not installed")
    def test_same_file_as_lightning(self, tmp_path):
        lightning_loggers = pytest.importorskip("lightning.pytorch.loggers")
        ours, theirs = CSVLogger(tmp_path / "ours"), lightning_loggers.CSVLogger(tmp_path / "theirs")
        for logger in (ours, theirs):
            logger.log_hyperparams(self.PARAMS)
            logger.log_hyperparams(Namespace(epochs=3))
        text = (Path(ours.log_dir) / "hparams.yaml").read_text()
        assert text == (Path(theirs.log_dir) / "hparams.yaml").read_text()

    @pytest.mark.skipif(not HAS_YAML, reason="PyYAML is not installed (needed to read the fallback's output)")
    def test_writer_without_pyyaml_is_valid_yaml(self, monkeypatch):
        import yaml

        params = {**self.PARAMS, "inf": float("inf"), "quote": 'say "hi"\n', "empty": [], "null": {}, "true": 1}
        monkeypatch.setitem(sys.modules, "yaml", None)
        text = to_yaml(params)
        assert "layers:\n  - 4\n  - 8\n" in text
        monkeypatch.undo()
        assert yaml.safe_load(text) == params

    def test_empty_params(self, tmp_path):
        logger = CSVLogger(tmp_path)
        logger.log_hyperparams({})
        assert (Path(logger.log_dir) / "hparams.yaml").read_text() == "{}\n"

    def test_bad_params(self, tmp_path):
        with pytest.raises(InvalidArgument) as info:
            CSVLogger(tmp_path).log_hyperparams([("lr", 0.1)])
        assert str(info.value) == "log_hyperparams: params must be a mapping or a Namespace, got list"


class Logging(Regressor):
    def training_step(self, batch, batch_idx):
        loss = super().training_step(batch, batch_idx)
        self.log("train_loss", loss)
        return loss


def fit_with_csv(tmp_path, **kwargs):
    logger = CSVLogger(tmp_path)
    trainer = Trainer(max_epochs=3, logger=logger, log_every_n_steps=2, enable_progress_bar=False,
                      enable_model_summary=False, enable_checkpointing=False, **kwargs)
    trainer.fit(Logging(), loader(32, 8), loader(16, 8))
    logger.finalize("success")
    return trainer, logger


class TestWithTrainer:
    def test_metrics_csv_of_a_run(self, tmp_path):
        trainer, logger = fit_with_csv(tmp_path)
        header, rows = read_rows(Path(logger.log_dir) / "metrics.csv")
        assert header == sorted(header) == ["epoch", "step", "train_loss", "val_loss"]
        val_rows = [r for r in rows if r["val_loss"]]
        # Lightning's step column: the optimizer steps before the epoch's last batch
        assert [(float(r["epoch"]), r["step"]) for r in val_rows] == [(0, "3"), (1, "7"), (2, "11")]
        assert [r["step"] for r in rows if r["train_loss"]] == ["1", "3", "5", "7", "9", "11"]
        assert float(val_rows[-1]["val_loss"]) == pytest.approx(trainer.callback_metrics["val_loss"])

    def test_pandas_reads_it(self, tmp_path):
        pandas = pytest.importorskip("pandas")
        _, logger = fit_with_csv(tmp_path)
        frame = pandas.read_csv(Path(logger.log_dir) / "metrics.csv")
        assert list(frame.columns) == ["epoch", "step", "train_loss", "val_loss"]
        assert frame["val_loss"].notna().sum() == 3 and frame["train_loss"].notna().sum() == 6

    def test_replay_reads_it(self, tmp_path):
        replay = pytest.importorskip("fhooks.replay")
        _, logger = fit_with_csv(tmp_path)
        rows = replay.read_metrics(Path(logger.log_dir) / "metrics.csv")
        assert [row["val_loss"] for row in rows if "val_loss" in row] == pytest.approx(
            [float(r["val_loss"]) for r in read_rows(Path(logger.log_dir) / "metrics.csv")[1] if r["val_loss"]])
        assert len(replay.replay_events(Path(logger.log_dir) / "metrics.csv")) > 0

    def test_checkpoints_go_to_the_loggers_folder(self, tmp_path):
        trainer, logger = fit_with_csv(tmp_path)
        assert trainer.checkpoint_dir == Path(logger.log_dir) / "checkpoints"
