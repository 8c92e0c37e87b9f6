"""ModelCheckpoint: the files Lightning 2.5.6 keeps on a scripted run are the files fhooks keeps."""

from __future__ import annotations

import math
import os
import warnings

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import fhooks
import fhooks.trainer.checkpoint_links  # noqa: F401  (registers the LinkCheckpoint handler)
from fhooks.callbacks import ModelCheckpoint

L = pytest.importorskip("lightning")
pytestmark = [pytest.mark.parity, pytest.mark.filterwarnings("ignore")]
NAN = float("nan")


def data(n: int) -> DataLoader:
    return DataLoader(TensorDataset(torch.randn(2 * n, 2), torch.randn(2 * n, 1)), batch_size=2)


class Scripted(torch.nn.Module):
    """Logs ``script[k]`` as val_loss at the k-th validation (one val batch per epoch)."""

    def __init__(self, script):
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(2, 1)
        self.script, self.calls = script, 0

    def training_step(self, batch, batch_idx):
        return torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1])

    def validation_step(self, batch, batch_idx):
        value = self.script[self.calls]
        self.calls += 1
        return {"val_loss": torch.tensor(value)}

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


class LightningScripted(L.LightningModule):
    def __init__(self, script):
        super().__init__()
        self.inner = Scripted(script)

    def training_step(self, batch, batch_idx):
        return self.inner.training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self.inner.validation_step(batch, batch_idx)["val_loss"])

    def configure_optimizers(self):
        return self.inner.configure_optimizers()


def run_lightning(kwargs, script, directory):
    mc = L.pytorch.callbacks.ModelCheckpoint(dirpath=directory, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = L.Trainer(max_epochs=len(script), callbacks=[mc], logger=False, enable_progress_bar=False,
                            enable_model_summary=False, num_sanity_val_steps=0, accelerator="cpu",
                            limit_train_batches=2, limit_val_batches=1, default_root_dir=directory)
        trainer.fit(LightningScripted(script), data(2), data(1))
    return mc


def run_fhooks(kwargs, script, directory):
    mc = ModelCheckpoint(dirpath=directory, **kwargs)
    trainer = fhooks.Trainer(callbacks=[mc], max_epochs=len(script), logger=False, enable_progress_bar=False,
                             enable_model_summary=False, num_sanity_val_steps=0, limit_train_batches=2,
                             limit_val_batches=1, default_root_dir=directory)
    trainer.fit(Scripted(script), data(2), data(1))
    return mc


def listed(folder):
    """The folder's files, fhooks' lock-and-ledger file left out (Lightning keeps no such file)."""
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return sorted(n for n in names if n != ".fhooks-ledger")


def summary(mc):
    def score(value):
        return None if value is None else float(value)

    return {
        "files": listed(mc.dirpath),
        "best_model_path": os.path.basename(mc.best_model_path),
        "best_model_score": score(mc.best_model_score),
        "best_k_models": {os.path.basename(p): score(v) for p, v in mc.best_k_models.items()},
        "kth_best_model_path": os.path.basename(mc.kth_best_model_path),
        "last_model_path": os.path.basename(mc.last_model_path),
    }


CASES = [
    ("top1", dict(monitor="val_loss"), [5.0, 3.0, 4.0, 1.0, 2.0]),
    ("top2_template", dict(monitor="val_loss", save_top_k=2, filename="{epoch}-{val_loss:.1f}"),
     [5.0, 3.0, 4.0, 1.0, 2.0]),
    ("top2_max", dict(monitor="val_loss", save_top_k=2, mode="max"), [5.0, 3.0, 4.0, 1.0, 2.0]),
    ("all", dict(monitor="val_loss", save_top_k=-1), [5.0, 3.0, 4.0]),
    ("none", dict(monitor="val_loss", save_top_k=0, save_last=True), [5.0, 3.0, 4.0]),
    ("ties", dict(monitor="val_loss", save_top_k=2), [3.0, 3.0, 3.0, 3.0]),
    ("ties_max", dict(monitor="val_loss", save_top_k=2, mode="max"), [3.0, 1.0, 3.0, 3.0]),
    ("nan", dict(monitor="val_loss", save_top_k=2), [NAN, 2.0, NAN, 1.0]),
    ("save_last", dict(monitor="val_loss", save_last=True), [5.0, 3.0, 4.0]),
    ("save_last_link", dict(monitor="val_loss", save_last="link"), [5.0, 3.0, 4.0]),
    ("default", dict(), [5.0, 3.0, 4.0]),
    ("every_2_epochs", dict(every_n_epochs=2, save_top_k=-1), [5.0, 3.0, 4.0, 1.0, 2.0]),
    ("every_3_steps", dict(every_n_train_steps=3, save_top_k=-1), [5.0, 3.0, 4.0, 1.0]),
    ("const_name", dict(monitor="val_loss", filename="const", save_top_k=-1), [3.0, 2.0, 1.0]),
    ("no_auto_insert", dict(monitor="val_loss", filename="e{epoch:02d}_{val_loss:.2f}",
                            auto_insert_metric_name=False), [2.0, 1.0]),
    ("last_only_no_monitor", dict(save_last=True, save_top_k=0), [1.0, 2.0]),
]


@pytest.mark.parametrize("kwargs, script", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_same_files_and_attributes(kwargs, script, tmp_path):
    theirs = summary(run_lightning(kwargs, script, str(tmp_path / "lightning")))
    ours = summary(run_fhooks(kwargs, script, str(tmp_path / "fhooks")))
    assert ours == theirs or _same_with_nan(ours, theirs)


def _same_with_nan(a, b):
    def norm(x):
        if isinstance(x, dict):
            return {k: norm(v) for k, v in x.items()}
        return "nan" if isinstance(x, float) and math.isnan(x) else x

    return norm(a) == norm(b)


def test_link_points_where_lightning_points(tmp_path):
    kwargs, script = dict(monitor="val_loss", save_last="link"), [5.0, 3.0, 4.0]
    theirs = run_lightning(kwargs, script, str(tmp_path / "lightning"))
    ours = run_fhooks(kwargs, script, str(tmp_path / "fhooks"))
    assert os.readlink(ours.last_model_path) == os.readlink(theirs.last_model_path) == "epoch=1-step=4.ckpt"


class Plain(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        return torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def lightning_plain():
    class LitPlain(Plain, L.LightningModule):
        pass

    return LitPlain()


def two_runs(folder, fit, resume):
    """Two fits writing to one folder: the second either a fresh run or a resume from ``last.ckpt``."""
    fit(folder, 1, None)
    fit(folder, 2 if resume else 1, os.path.join(folder, "last.ckpt") if resume else None)
    return listed(folder)


def fit_fhooks(folder, epochs, ckpt_path):
    trainer = fhooks.Trainer(callbacks=[ModelCheckpoint(dirpath=folder, save_last=True)], max_epochs=epochs,
                             logger=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Plain(), data(4), ckpt_path=ckpt_path)


def fit_lightning(folder, epochs, ckpt_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = L.Trainer(callbacks=[L.pytorch.callbacks.ModelCheckpoint(dirpath=folder, save_last=True)],
                            max_epochs=epochs, logger=False, enable_progress_bar=False, enable_model_summary=False,
                            accelerator="cpu")
        trainer.fit(lightning_plain(), data(4), ckpt_path=ckpt_path)


@pytest.mark.parametrize("resume", [False, True], ids=["a second run", "a resumed run"])
def test_files_already_in_the_folder(tmp_path, resume):
    ours = two_runs(str(tmp_path / "fhooks"), fit_fhooks, resume)
    theirs = two_runs(str(tmp_path / "lightning"), fit_lightning, resume)
    assert ours == theirs
    assert ours == (["epoch=1-step=8.ckpt", "last.ckpt"] if resume else
                    ["epoch=0-step=4-v1.ckpt", "epoch=0-step=4.ckpt", "last-v1.ckpt", "last.ckpt"])
