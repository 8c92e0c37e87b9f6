"""``fhooks.lightning.as_callback`` in a real Lightning Trainer: resume through ``ckpt_path``, imports, stop reasons."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import fhooks
import fhooks.lightning
from fhooks import Stop, lambda_hook
from fhooks.core import Hook
from fhooks.errors import InvalidArgument
from fhooks.hooks import early_stopping, model_checkpoint
from tests.models import Regressor, loader

L = pytest.importorskip("lightning")
pytestmark = pytest.mark.parity

SCRIPT = [5.0, 4.0, 4.5, 3.0, 3.5, 3.6, 3.7, 3.8, 3.9, 4.0]


class Scripted(L.LightningModule):
    """Logs ``SCRIPT[epoch]`` as val_loss, so decisions depend on the epoch only."""

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", torch.tensor(SCRIPT[self.current_epoch]))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def data():
    return DataLoader(TensorDataset(torch.ones(8, 1)), batch_size=2)


def expression():
    return [early_stopping("val_loss", patience=3), model_checkpoint(monitor="val_loss", save_top_k=2),
            model_checkpoint(filename="every-{epoch}", save_top_k=-1)]


def fit(callback, ckpt_path=None, max_epochs=len(SCRIPT)):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = L.Trainer(callbacks=[callback], max_epochs=max_epochs, logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                            accelerator="cpu", default_root_dir="run")
        trainer.fit(Scripted(), data(), data(), ckpt_path=ckpt_path)
    return trainer


def moments(decisions):
    return [(d.kind, d.epoch, d.step, type(d.effect).__name__, os.path.basename(getattr(d.effect, "path", "")))
            for d in decisions]


class TestResume:
    def test_ckpt_path_resumes_the_expression_exactly(self, tmp_path, monkeypatch):
        """Whole run vs a run cut after epoch 3 and resumed from its epoch-3 checkpoint: same later decisions and files."""
        (tmp_path / "whole").mkdir()
        (tmp_path / "cut").mkdir()
        monkeypatch.chdir(tmp_path / "whole")
        whole = fhooks.lightning.as_callback(expression())
        trainer = fit(whole)
        assert trainer.should_stop and whole.stop_reason.startswith("Monitored metric val_loss did not improve")
        monkeypatch.chdir(tmp_path / "cut")
        cut = fhooks.lightning.as_callback(expression())
        fit(cut, max_epochs=4)
        assert moments(cut.decisions) == [m for m in moments(whole.decisions) if m[1] <= 3]
        resumed = fhooks.lightning.as_callback(expression())
        fit(resumed, ckpt_path=os.path.join(cut.host.checkpoint_dir, "every-epoch=3.ckpt"))
        later = [m for m in moments(whole.decisions) if m[1] > 3]
        assert later and moments(resumed.decisions) == later
        assert sorted(os.listdir(resumed.host.checkpoint_dir)) == sorted(os.listdir(whole.host.checkpoint_dir))

    def test_without_the_saved_state_the_resumed_run_decides_otherwise(self, tmp_path, monkeypatch):
        """The resume test can fail: a checkpoint stripped of the callback's state stops an epoch later."""
        monkeypatch.chdir(tmp_path)
        whole = fhooks.lightning.as_callback(expression())
        fit(whole)
        path = os.path.join(whole.host.checkpoint_dir, "every-epoch=3.ckpt")
        checkpoint = torch.load(path, weights_only=False)
        assert checkpoint["callbacks"][whole.state_key]["hooks"]["shape"]
        del checkpoint["callbacks"][whole.state_key]
        torch.save(checkpoint, "stripped.ckpt")
        resumed = fhooks.lightning.as_callback(expression())
        fit(resumed, ckpt_path="stripped.ckpt")
        stops = lambda decisions: [d.epoch for d in decisions if isinstance(d.effect, Stop)]  # noqa: E731
        assert stops(whole.decisions) == [6] and stops(resumed.decisions) == [7]


class LightningRegressor(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.inner = Regressor()

    def training_step(self, batch, batch_idx):
        return self.inner.training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx):
        return self.inner.validation_step(batch, batch_idx)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def event_recorder(seen):
    """A hook that hears every kind and keeps each event's kind, stage, counters and batch index."""
    def record(state, e):
        seen.append((e.kind, e.stage, e.epoch, e.step, e.batch_idx, type(e.data).__name__))
        return state, ()

    return Hook(None, record, name="recorder")


EVENT_CONFIGS = [
    dict(max_epochs=2, limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=1),
    dict(max_epochs=1, limit_train_batches=4, limit_val_batches=2, num_sanity_val_steps=0, accumulate_grad_batches=2),
    dict(max_epochs=2, limit_train_batches=4, limit_val_batches=1, num_sanity_val_steps=2, val_check_interval=0.5),
]


class TestEvents:
    @pytest.mark.parametrize("config", EVENT_CONFIGS)
    def test_lightning_gives_the_events_fhooks_trainer_gives(self, config, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        ours, theirs = [], []
        common = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      accelerator="cpu", **config)
        fhooks.Trainer(callbacks=[event_recorder(ours)], **common).fit(Regressor(), loader(), loader())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            L.Trainer(callbacks=[fhooks.lightning.as_callback(event_recorder(theirs))], **common).fit(
                LightningRegressor(), loader(), loader())
        assert theirs == ours


class TestCallback:
    def test_stop_reason_and_decisions(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        callback = fhooks.lightning.as_callback(
            lambda_hook(on_train_epoch_end=lambda e: Stop("two epochs") if e.epoch == 1 else None))
        trainer = fit(callback)
        assert (trainer.current_epoch, trainer.global_step, callback.stop_reason) == (2, 8, "two epochs")
        assert [str(d) for d in callback.decisions] == ["train_epoch_end (epoch 1, step 8): Stop('two epochs')"]

    def test_not_a_hook_is_refused(self):
        with pytest.raises(InvalidArgument, match=r"as_callback: expected a hook .* got 3"):
            fhooks.lightning.as_callback(3)


@pytest.mark.parametrize(("module", "framework"), [("fhooks.lightning", "lightning"), ("fhooks.ignite", "ignite"),
                                                   ("fhooks.core", "torch")])
def test_importing_does_not_import_the_framework(module, framework):
    code = f"import sys, {module}; print({framework!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert out.stdout.strip() == "False"
