"""A run dies after writing more checkpoints; it is resumed from an earlier one. The files the dead run wrote after
that checkpoint are kept and the resumed run takes ``-vN`` names beside them: the same files as Lightning 2.5.6."""

from __future__ import annotations

import os
import warnings

import pytest

import fhooks
from fhooks import lambda_hook
from fhooks.callbacks import ModelCheckpoint
from tests.parity.test_model_checkpoint_parity import Plain, data, lightning_plain, listed

L = pytest.importorskip("lightning")
pytestmark = [pytest.mark.parity, pytest.mark.filterwarnings("ignore")]


class Killed(Exception):
    """Stands for the process dying at the start of an epoch."""


def fhooks_run(folder, kill_at, ckpt_path=None):
    def die(event):
        if event.epoch == kill_at:
            raise Killed

    trainer = fhooks.Trainer(callbacks=[ModelCheckpoint(dirpath=folder, save_top_k=-1, save_last=True),
                                        lambda_hook(on_train_epoch_start=die)],
                             max_epochs=4, logger=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Plain(), data(2), ckpt_path=ckpt_path)


class Die(L.pytorch.callbacks.Callback):
    def __init__(self, kill_at):
        self.kill_at = kill_at

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.kill_at:
            raise Killed


def lightning_run(folder, kill_at, ckpt_path=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mc = L.pytorch.callbacks.ModelCheckpoint(dirpath=folder, save_top_k=-1, save_last=True)
        trainer = L.Trainer(callbacks=[mc, Die(kill_at)],
                            max_epochs=4, logger=False, enable_progress_bar=False, enable_model_summary=False,
                            accelerator="cpu")
        trainer.fit(lightning_plain(), data(2), ckpt_path=ckpt_path)


@pytest.mark.parametrize("resume_from", ["epoch=0-step=2.ckpt", "epoch=1-step=4.ckpt"])
def test_files_written_after_the_checkpoint_are_kept_as_lightning_keeps_them(tmp_path, resume_from):
    found = {}
    for name, run in (("fhooks", fhooks_run), ("lightning", lightning_run)):
        folder = str(tmp_path / name)
        with pytest.raises(Killed):
            run(folder, kill_at=3)
        before = {n: os.path.getmtime(os.path.join(folder, n)) for n in listed(folder) if n != "last.ckpt"}
        run(folder, kill_at=None, ckpt_path=os.path.join(folder, resume_from))
        assert all(os.path.getmtime(os.path.join(folder, n)) == t for n, t in before.items())  # none rewritten
        found[name] = listed(folder)
    assert found["fhooks"] == found["lightning"]
    assert "epoch=2-step=6-v1.ckpt" in found["fhooks"]
