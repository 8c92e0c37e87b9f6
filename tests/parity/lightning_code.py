"""Run the same LightningModule code under Lightning 2.5.6 and under fhooks, only the import swapped.

Module code is written against ``pl``, a namespace holding one library's ``LightningModule``,
``LightningDataModule``, ``Trainer``, ``Callback``, ``seed_everything``, ``CSVLogger``,
``EarlyStopping`` and ``ModelCheckpoint``. :func:`compare` runs it under both (each in its own
working directory, relative paths, the sanity check on) and checks that they agree.
"""

from __future__ import annotations

import csv
import math
import os
import types
import warnings
from pathlib import Path
from typing import Any, Callable

import torch

import fhooks
from fhooks.callbacks import EarlyStopping, ModelCheckpoint
from fhooks.loggers import CSVLogger


def apis() -> dict[str, types.SimpleNamespace]:
    import lightning.pytorch as lp

    return {
        "lightning": types.SimpleNamespace(
            LightningModule=lp.LightningModule, LightningDataModule=lp.LightningDataModule, Trainer=lp.Trainer,
            Callback=lp.Callback, seed_everything=lp.seed_everything, CSVLogger=lp.loggers.CSVLogger,
            EarlyStopping=lp.callbacks.EarlyStopping, ModelCheckpoint=lp.callbacks.ModelCheckpoint),
        "fhooks": types.SimpleNamespace(
            LightningModule=fhooks.LightningModule, LightningDataModule=fhooks.LightningDataModule,
            Trainer=fhooks.Trainer, Callback=fhooks.Callback, seed_everything=fhooks.seed_everything,
            CSVLogger=CSVLogger, EarlyStopping=EarlyStopping, ModelCheckpoint=ModelCheckpoint),
    }


def regression(n: int, seed: int = 0, features: int = 4) -> torch.utils.data.TensorDataset:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = x.sum(dim=1, keepdim=True) + 0.1 * torch.randn(n, 1, generator=generator)
    return torch.utils.data.TensorDataset(x, y)


def loader(n: int, batch_size: int, seed: int = 0, shuffle: bool = False) -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(regression(n, seed), batch_size=batch_size, shuffle=shuffle)


class Run(types.SimpleNamespace):
    """What one library's run left: metrics, metrics.csv, checkpoint files, counters, the trainer."""


def run(pl: types.SimpleNamespace, folder: Path, program: Callable[[types.SimpleNamespace], Any]) -> Run:
    """``program(pl)`` in ``folder`` (as the working directory); returns what it left behind."""
    folder.mkdir(parents=True, exist_ok=True)
    before = os.getcwd()
    os.chdir(folder)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer = program(pl)
    finally:
        os.chdir(before)
    log_dir = Path(trainer.logger.log_dir) if trainer.logger is not None else None
    rows = _read_csv(log_dir / "metrics.csv") if log_dir and (log_dir / "metrics.csv").exists() else ([], [])
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.ckpt"))
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    return Run(trainer=trainer, metrics=metrics, header=rows[0], rows=rows[1], files=files,
               epoch=trainer.current_epoch, step=trainer.global_step)


def trainer_args(pl: types.SimpleNamespace, **config: Any) -> dict[str, Any]:
    """The arguments both trainers get: a CSV logger in ``logs``, CPU, no bars or summaries, then ``config``."""
    # the logger's folder is absolute: a relative one doubles the checkpoint path in fhooks today (session "files")
    args = dict(default_root_dir=".", logger=pl.CSVLogger(os.path.abspath("logs")), accelerator="cpu",
                enable_progress_bar=False, enable_model_summary=False)
    return {**args, **config}


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = [{k: (v if k in ("epoch", "step") else float(v)) for k, v in row.items() if v != ""} for row in reader]
    return list(reader.fieldnames or []), rows


def close(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)


def compare(tmp_path: Path, program: Callable[[types.SimpleNamespace], Any]) -> tuple[Run, Run]:
    """Run ``program`` under both libraries; assert the same metrics, metrics.csv, checkpoints and counters."""
    found = apis()
    theirs = run(found["lightning"], tmp_path / "lightning", program)
    ours = run(found["fhooks"], tmp_path / "fhooks", program)
    assert sorted(ours.metrics) == sorted(theirs.metrics)
    differing = {k: (v, theirs.metrics[k]) for k, v in ours.metrics.items() if not close(v, theirs.metrics[k])}
    assert differing == {}
    assert ours.header == theirs.header
    assert [(sorted(r), r.get("epoch"), r.get("step")) for r in ours.rows] == \
        [(sorted(r), r.get("epoch"), r.get("step")) for r in theirs.rows]
    for mine, lightnings in zip(ours.rows, theirs.rows):
        assert [k for k, v in mine.items() if k not in ("epoch", "step") and not close(v, lightnings[k])] == [], \
            (mine, lightnings)
    assert ours.files == theirs.files
    assert (ours.epoch, ours.step) == (theirs.epoch, theirs.step)
    return ours, theirs
