"""The default CSV logger against Lightning 2.5.6: the same fit writes the same ``metrics.csv`` and ``hparams.yaml``."""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import pytest
import torch

from fhooks import Trainer
from tests.models import regression_data

L = pytest.importorskip("lightning")

pytestmark = pytest.mark.parity

CONFIGS = {
    "log every 3 steps, 2 epochs": dict(max_epochs=2, log_every_n_steps=3),
    "accumulate 2, log every 2": dict(max_epochs=2, log_every_n_steps=2, accumulate_grad_batches=2),
    "validation twice an epoch": dict(max_epochs=1, log_every_n_steps=5, val_check_interval=0.5),
    "step-limited": dict(max_steps=5, log_every_n_steps=2),
}


def steps(module, batch, log):
    x, y = batch
    loss = torch.nn.functional.mse_loss(module.layer(x), y)
    log("train_loss", loss)
    log("train_loss_epoch_mean", loss, on_step=False, on_epoch=True)
    return loss


def build(base):
    """A module class on ``base`` (Lightning's or plain torch's) that logs the same values."""

    class Logs(base):
        def __init__(self, lr: float = 0.05) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.layer = torch.nn.Linear(4, 1)
            self.lr = lr
            if hasattr(self, "save_hyperparameters"):
                self.save_hyperparameters()
            else:
                self.hparams = {"lr": lr}

        def training_step(self, batch, batch_idx):
            return steps(self, batch, self.log)

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.lr)

    return Logs


def loaders():
    return (torch.utils.data.DataLoader(regression_data(64), batch_size=8),
            torch.utils.data.DataLoader(regression_data(32, seed=1), batch_size=16))


def read(folder: Path) -> tuple[list[str], list[dict[str, str]], str]:
    with open(folder / "metrics.csv", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    return list(reader.fieldnames or []), rows, (folder / "hparams.yaml").read_text()


def lightning_run(config, root: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = L.Trainer(default_root_dir=root, logger=L.pytorch.loggers.CSVLogger(root), accelerator="cpu",
                            enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                            num_sanity_val_steps=0, **config)
        trainer.fit(build(L.LightningModule)(), *loaders())
    return read(Path(trainer.logger.log_dir))


def fhooks_run(config, root: Path):
    trainer = Trainer(default_root_dir=root, enable_progress_bar=False, enable_model_summary=False,
                      enable_checkpointing=False, num_sanity_val_steps=0, **config)
    trainer.fit(build(torch.nn.Module)(), *loaders())
    return read(Path(trainer.log_dir))


def cells(rows):
    """Each row's non-empty cells: ``epoch`` and ``step`` exactly, the metric values as floats."""
    return [{k: (v if k in ("epoch", "step") else float(v)) for k, v in row.items() if v != ""} for row in rows]


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_metrics_csv_matches_lightnings(config, tmp_path):
    ours_header, ours, ours_hparams = fhooks_run(config, tmp_path / "fhooks")
    theirs_header, theirs, theirs_hparams = lightning_run(config, tmp_path / "lightning")
    assert ours_header == theirs_header
    ours, theirs = cells(ours), cells(theirs)
    assert [(sorted(r), r["epoch"], r["step"]) for r in ours] == [(sorted(r), r["epoch"], r["step"]) for r in theirs]
    for mine, lightnings in zip(ours, theirs):
        for key, value in mine.items():
            if key not in ("epoch", "step"):
                assert math.isclose(value, lightnings[key], rel_tol=1e-5), (key, mine, lightnings)
    assert ours_hparams == theirs_hparams == "lr: 0.05\n"
