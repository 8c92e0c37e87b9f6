"""After the same fit under both trainers, every public non-method attribute of Lightning 2.5.6's ``EarlyStopping``,
``ModelCheckpoint`` and ``LearningRateMonitor`` (introspected) has the same type on the fhooks instance.

``TYPE_DIFFERENCES`` lists, with the reason, where the types still differ: fhooks' scores are Python floats
(compared in float64 by the pure hooks), Lightning's are tensors.
"""

from __future__ import annotations

import warnings

import pytest
import torch

import fhooks
import fhooks.callbacks as fc
from tests.models import loader

L = pytest.importorskip("lightning")
pytestmark = pytest.mark.parity

#: name -> attributes whose type differs: scores are floats in fhooks, tensors in Lightning.
TYPE_DIFFERENCES = {
    "EarlyStopping": {"best_score"},
    "ModelCheckpoint": {"best_model_score", "current_score", "kth_value"},
    "LearningRateMonitor": set(),
}


def build(base):
    class Net(base):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch, batch_idx):
            x, y = batch
            return torch.nn.functional.mse_loss(self.layer(x), y)

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    return Net


def fitted(package, trainer_cls, base, folder):
    callbacks = [package.EarlyStopping("val_loss", patience=5), package.ModelCheckpoint(monitor="val_loss", save_top_k=2),
                 package.LearningRateMonitor()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = trainer_cls(callbacks=callbacks, max_epochs=3, limit_train_batches=2, limit_val_batches=1,
                              num_sanity_val_steps=0, enable_progress_bar=False, enable_model_summary=False,
                              accelerator="cpu", default_root_dir=folder)
        trainer.fit(build(base)(), loader(16), loader(8, seed=1))
    return callbacks


def values(callback):
    names = [n for n in dir(type(callback)) if not n.startswith("_")]
    found = {}
    for name in names + [n for n in vars(callback) if not n.startswith("_")]:
        value = getattr(callback, name, None)
        if not callable(value) or isinstance(value, (dict, list, tuple)):
            found[name] = value
    return found


def test_attribute_types_match(tmp_path):
    ours = fitted(fc, fhooks.Trainer, torch.nn.Module, tmp_path / "a")
    theirs = fitted(L.pytorch.callbacks, L.Trainer, L.LightningModule, tmp_path / "b")
    for mine, lightning in zip(ours, theirs):
        name = type(lightning).__name__
        expected = values(lightning)
        got = values(mine)
        assert set(expected) - set(got) == set(), name
        differ = {k for k, v in expected.items() if type(got[k]) is not type(v) and v is not None}
        assert differ == TYPE_DIFFERENCES[name], name


def test_score_values_agree(tmp_path):
    ours = fitted(fc, fhooks.Trainer, torch.nn.Module, tmp_path / "a")
    theirs = fitted(L.pytorch.callbacks, L.Trainer, L.LightningModule, tmp_path / "b")
    assert ours[0].best_score == pytest.approx(float(theirs[0].best_score), rel=1e-5)
    assert ours[1].best_model_score == pytest.approx(float(theirs[1].best_model_score), rel=1e-5)
    assert ours[2].lrs == theirs[2].lrs
