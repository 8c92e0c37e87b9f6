"""validate/test/predict with Lightning's signatures under both trainers: ``ckpt_path="best"``/``"last"``, no model
(the fitted one), the printed results table, ``return_predictions``."""

from __future__ import annotations

import os

import pytest
import torch

import fhooks

pl = pytest.importorskip("lightning.pytorch")

pytestmark = [pytest.mark.parity,  # Lightning's own notes on small loaders, workers and torch's pytree
              pytest.mark.filterwarnings("ignore::FutureWarning", "ignore:.*does not have many workers",
                                         "ignore:The number of training batches", "ignore:GPU available")]

LIBRARIES = {"lightning": (pl.Trainer, pl.callbacks.ModelCheckpoint),
             "fhooks": (fhooks.Trainer, fhooks.callbacks.ModelCheckpoint)}


class Regressor(pl.LightningModule):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(4, 1)

    def loss(self, batch):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def training_step(self, batch, batch_idx):
        return self.loss(batch)

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self.loss(batch))

    def test_step(self, batch, batch_idx, dataloader_idx=0):
        self.log("test_loss", self.loss(batch))

    def predict_step(self, batch, batch_idx):
        return self.layer(batch[0])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.3)  # large: val_loss goes up and down, so best != last


def loader(seed=1):
    g = torch.Generator().manual_seed(seed)
    data = torch.utils.data.TensorDataset(torch.randn(12, 4, generator=g), torch.randn(12, 1, generator=g))
    return torch.utils.data.DataLoader(data, batch_size=4)


def fitted(name, **checkpoint):
    trainer_cls, checkpoint_cls = LIBRARIES[name]
    callback = checkpoint_cls(**checkpoint)
    trainer = trainer_cls(max_epochs=4, callbacks=[callback], logger=False, enable_progress_bar=False,
                          enable_model_summary=False, num_sanity_val_steps=0)
    model = Regressor()
    trainer.fit(model, loader(), loader(2))
    return trainer, model, callback


def run_both(tmp_path, monkeypatch, program):
    out = {}
    for name in LIBRARIES:
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        out[name] = program(name)
    return out["lightning"], out["fhooks"]


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_test_with_best_loads_the_best_file(tmp_path, monkeypatch):
    def program(name):
        trainer, model, callback = fitted(name, monitor="val_loss", save_top_k=1)
        results = trainer.test(dataloaders=loader(3), ckpt_path="best", verbose=False)
        best = torch.load(callback.best_model_path, weights_only=True)["state_dict"]
        assert all(torch.equal(v, best[k]) for k, v in model.state_dict().items())  # the best file's weights
        return os.path.basename(callback.best_model_path), results

    (lightning_best, lightning_results), (fhooks_best, fhooks_results) = run_both(tmp_path, monkeypatch, program)
    assert fhooks_best == lightning_best and fhooks_best != "epoch=3-step=12.ckpt"
    assert fhooks_results[0]["test_loss"] == pytest.approx(lightning_results[0]["test_loss"], abs=1e-6)


def test_validate_without_a_model_validates_the_fitted_one_from_its_best_file(tmp_path, monkeypatch):
    def program(name):
        trainer, model, callback = fitted(name, monitor="val_loss", save_top_k=1)
        with pytest.warns(UserWarning, match="The best model of the previous `fit` call will be used"):
            results = trainer.validate(dataloaders=loader(2), verbose=False)
        best = torch.load(callback.best_model_path, weights_only=True)["state_dict"]
        assert all(torch.equal(v, best[k]) for k, v in model.state_dict().items())
        return results, trainer.lightning_module is model

    (lightning_results, lightning_same), (fhooks_results, fhooks_same) = run_both(tmp_path, monkeypatch, program)
    assert lightning_same and fhooks_same
    assert fhooks_results[0]["val_loss"] == pytest.approx(lightning_results[0]["val_loss"], abs=1e-6)


def test_last_and_errors_as_lightning(tmp_path, monkeypatch):
    def program(name):
        trainer, model, callback = fitted(name, save_last=True)
        trainer.validate(dataloaders=loader(2), ckpt_path="last", verbose=False)
        last = torch.load(callback.last_model_path, weights_only=True)["state_dict"]
        loaded = all(torch.equal(v, last[k]) for k, v in model.state_dict().items())
        trainer_cls, _ = LIBRARIES[name]
        fresh = trainer_cls(logger=False, enable_checkpointing=False)
        with pytest.raises(TypeError) as no_model:
            fresh.validate(dataloaders=loader())
        with pytest.raises(ValueError) as no_callback:
            fresh.validate(Regressor(), dataloaders=loader(), ckpt_path="best")
        return loaded, str(no_model.value), str(no_callback.value)

    lightning, fhooks_ = run_both(tmp_path, monkeypatch, program)
    assert fhooks_ == lightning and fhooks_[0]


def test_the_printed_results_table_is_lightnings(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "100")

    def program(name):
        trainer, model, _ = fitted(name)
        capsys.readouterr()
        trainer.test(model, dataloaders=[loader(3), loader(4)])
        trainer.validate(model, dataloaders=loader(3))
        return [line for line in capsys.readouterr().out.splitlines() if set(line) & set("─━│┃")]

    lightning, fhooks_ = run_both(tmp_path, monkeypatch, program)
    assert len(lightning) > 6
    assert [line.split()[:2] for line in fhooks_] == [line.split()[:2] for line in lightning]  # names, columns
    assert [len(line) for line in fhooks_] == [len(line) for line in lightning]


def test_predict_return_predictions(tmp_path, monkeypatch):
    def program(name):
        trainer, model, _ = fitted(name)
        kept = trainer.predict(model, loader(3))
        dropped = trainer.predict(model, loader(3), return_predictions=False)
        return [p.shape for p in kept], dropped

    lightning, fhooks_ = run_both(tmp_path, monkeypatch, program)
    assert fhooks_ == lightning and lightning[1] is None


def test_the_plain_table_without_rich_is_lightnings(tmp_path, monkeypatch, capsys):
    import sys

    from lightning.pytorch.loops import evaluation_loop

    monkeypatch.setenv("COLUMNS", "90")
    monkeypatch.setattr(evaluation_loop, "_RICH_AVAILABLE", False)
    monkeypatch.setitem(sys.modules, "rich", None)  # fhooks' import of rich fails, as when it is not installed

    def program(name):
        trainer, model, _ = fitted(name)
        capsys.readouterr()
        trainer.test(model, dataloaders=[loader(3), loader(4)])
        return capsys.readouterr().out.splitlines()

    lightning, fhooks_ = run_both(tmp_path, monkeypatch, program)
    lightning = [line for line in lightning if "─" in line or "loss" in line or "Metric" in line]
    fhooks_ = [line for line in fhooks_ if "─" in line or "loss" in line or "Metric" in line]
    assert len(lightning) == 4 and [line.split()[:2] for line in fhooks_] == [line.split()[:2] for line in lightning]
    assert [len(line) for line in fhooks_] == [len(line) for line in lightning]
