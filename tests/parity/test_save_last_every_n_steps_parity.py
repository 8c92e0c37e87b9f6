"""``ModelCheckpoint(save_last=..., every_n_train_steps=k)`` against Lightning 2.5.6: the same files at the end,
and at the start of every batch ``last.ckpt`` holds the same global step (it is refreshed by step-triggered
saves, not only at epoch ends)."""

from __future__ import annotations

import os
import warnings

import pytest
import torch

import fhooks
from fhooks import Do, lambda_hook
from fhooks.callbacks import ModelCheckpoint
from tests.parity.test_model_checkpoint_parity import LightningScripted, Scripted, data, summary

L = pytest.importorskip("lightning")
pytestmark = [pytest.mark.parity, pytest.mark.filterwarnings("ignore")]

SCRIPT = [5.0, 3.0, 4.0]  # val_loss at the end of each epoch of 2 batches: 6 steps
CASES = [
    ("every_step", dict(every_n_train_steps=1, save_last=True)),
    ("every_3_keep_all", dict(every_n_train_steps=3, save_last=True, save_top_k=-1)),
    ("every_3_last_only", dict(every_n_train_steps=3, save_last=True, save_top_k=0)),
    ("every_3_link", dict(every_n_train_steps=3, save_last="link")),
    ("every_3_monitored_top2", dict(every_n_train_steps=3, save_last=True, monitor="val_loss", save_top_k=2)),
    ("every_5", dict(every_n_train_steps=5, save_last=True)),
]


def last_step(directory):
    """The global step stored in ``last.ckpt`` (through the link, if it is one), or None before it exists."""
    path = os.path.join(directory, "last.ckpt")
    return torch.load(path, weights_only=False, map_location="cpu")["global_step"] if os.path.exists(path) else None


class SeenByLightning(L.pytorch.callbacks.Callback):
    def __init__(self, directory):
        self.directory, self.seen = directory, []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.seen.append(last_step(self.directory))


def run_lightning(kwargs, directory):
    mc = L.pytorch.callbacks.ModelCheckpoint(dirpath=directory, **kwargs)
    seen = SeenByLightning(directory)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = L.Trainer(max_epochs=len(SCRIPT), callbacks=[seen, mc], logger=False, enable_progress_bar=False,
                            enable_model_summary=False, num_sanity_val_steps=0, accelerator="cpu",
                            limit_train_batches=2, limit_val_batches=1, default_root_dir=directory)
        trainer.fit(LightningScripted(SCRIPT), data(2), data(1))
    return mc, [*seen.seen, last_step(directory)]


def run_fhooks(kwargs, directory):
    mc = ModelCheckpoint(dirpath=directory, **kwargs)
    seen = []
    reader = lambda_hook(on_train_batch_start=lambda e: Do(lambda ctx: seen.append(last_step(directory))))
    trainer = fhooks.Trainer(callbacks=[reader, mc], max_epochs=len(SCRIPT), logger=False, enable_progress_bar=False,
                             enable_model_summary=False, num_sanity_val_steps=0, limit_train_batches=2,
                             limit_val_batches=1, default_root_dir=directory)
    trainer.fit(Scripted(SCRIPT), data(2), data(1))
    return mc, [*seen, last_step(directory)]


@pytest.mark.parametrize("kwargs", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_save_last_with_step_trigger_matches_lightning(kwargs, tmp_path):
    theirs, theirs_seen = run_lightning(kwargs, str(tmp_path / "lightning"))
    ours, ours_seen = run_fhooks(kwargs, str(tmp_path / "fhooks"))
    assert summary(ours) == summary(theirs)
    assert ours_seen == theirs_seen
    assert summary(ours)["last_model_path"] == "last.ckpt"
