"""validate()/test()/predict() after fit() keep the callbacks' state, as Lightning 2.5.6's trainer does.

The same scripted module runs under both trainers with a ModelCheckpoint (top 2 by
``val_loss``) and an EarlyStopping; after fit, then validate, test and predict, the
best path, the top-k files (by name, with their scores) and the best score must be
what each had after fit, and the same in both.
"""

from __future__ import annotations

import os
import warnings

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import fhooks
from fhooks.callbacks import EarlyStopping, ModelCheckpoint

L = pytest.importorskip("lightning")
pytestmark = pytest.mark.parity

SCRIPT = [3.0, 2.0, 2.5, 1.0]  # one val_loss per validation run; exact in float32


def data() -> DataLoader:
    return DataLoader(TensorDataset(torch.ones(4, 1)), batch_size=2)


class Scripted(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.runs = 0

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", torch.tensor(SCRIPT[min(self.runs, len(SCRIPT) - 1)]))

    def on_validation_epoch_end(self):
        self.runs += 1

    def test_step(self, batch, batch_idx):
        self.log("test_loss", torch.tensor(0.5))

    def predict_step(self, batch, batch_idx):
        return self.layer(batch[0])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


class LightningScripted(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.inner = Scripted()
        self.inner.log = self.log

    def training_step(self, batch, batch_idx):
        return self.inner.training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx):
        self.inner.validation_step(batch, batch_idx)

    def on_validation_epoch_end(self):
        self.inner.on_validation_epoch_end()

    def test_step(self, batch, batch_idx):
        self.inner.test_step(batch, batch_idx)

    def predict_step(self, batch, batch_idx):
        return self.inner.predict_step(batch, batch_idx)

    def configure_optimizers(self):
        return self.inner.configure_optimizers()


def state(mc, es):
    return {"best": os.path.basename(mc.best_model_path),
            "top_k": sorted((os.path.basename(k), float(v)) for k, v in mc.best_k_models.items()),
            "best_score": float(es.best_score), "wait": es.wait_count}


def run(trainer_cls, module, mc, es, folder):
    settings = dict(max_epochs=len(SCRIPT), num_sanity_val_steps=0, logger=False, enable_progress_bar=False,
                    enable_model_summary=False, accelerator="cpu", default_root_dir=folder)
    trainer = trainer_cls(callbacks=[mc, es], **settings)
    trainer.fit(module, data(), data())
    states = [state(mc, es)]
    trainer.validate(module, data())
    states.append(state(mc, es))
    trainer.test(module, data())
    states.append(state(mc, es))
    trainer.predict(module, data())
    states.append(state(mc, es))
    return states


def test_validate_test_predict_after_fit_keep_the_callbacks_state(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lightning = run(L.Trainer, LightningScripted(), L.pytorch.callbacks.ModelCheckpoint(
            dirpath="l", monitor="val_loss", save_top_k=2), L.pytorch.callbacks.EarlyStopping("val_loss", patience=5),
            "lightning")
    ours = run(fhooks.Trainer, Scripted(), ModelCheckpoint(dirpath="f", monitor="val_loss", save_top_k=2),
               EarlyStopping("val_loss", patience=5), "fhooks")
    assert ours == lightning
    assert ours[0]["best"] == "epoch=3-step=8.ckpt" and ours[0]["best_score"] == 1.0
    assert all(s == ours[0] for s in ours)
