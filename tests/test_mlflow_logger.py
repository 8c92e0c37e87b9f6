"""Lightning's ``MLFlowLogger`` in ``fhooks.Trainer``, end to end against a local MLflow file store.

With ``log_model=True`` the checkpoints the run's ``ModelCheckpoint`` kept are recorded as
artifacts (MLflow reads them at ``finalize``, from the callback ``after_save_checkpoint`` gave it);
metrics and hyperparameters are recorded as Lightning records them.
"""

from __future__ import annotations

import os
import warnings

import pytest
import torch

import fhooks
from fhooks.callbacks import ModelCheckpoint
from tests.models import loader

mlflow = pytest.importorskip("mlflow")
L = pytest.importorskip("lightning")


class Net(torch.nn.Module):
    def __init__(self, lr=0.05):
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(4, 1)
        self.hparams = {"lr": lr, "width": 4}

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams["lr"])


def test_metrics_params_and_checkpoints_reach_mlflow(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = f"file:{tmp_path / 'mlruns'}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's own deprecation notices
        logger = L.pytorch.loggers.MLFlowLogger(experiment_name="fhooks", tracking_uri=uri, log_model=True)
        checkpoint = ModelCheckpoint(monitor="val_loss", save_top_k=2)
        trainer = fhooks.Trainer(logger=logger, callbacks=[checkpoint], max_epochs=3, log_every_n_steps=1,
                                 limit_val_batches=1, num_sanity_val_steps=0, enable_progress_bar=False,
                                 enable_model_summary=False)
        trainer.fit(Net(), loader(16), loader(8, seed=1))
        run = mlflow.tracking.MlflowClient(uri).get_run(logger.run_id)
        artifacts = mlflow.tracking.MlflowClient(uri).list_artifacts(logger.run_id)
        folders = {a.path: [f.path for f in mlflow.tracking.MlflowClient(uri).list_artifacts(logger.run_id, a.path)]
                   for a in artifacts if a.is_dir}

    assert run.info.status == "FINISHED"
    assert run.data.params == {"lr": "0.05", "width": "4"}
    assert {"train_loss", "val_loss", "epoch"} <= set(run.data.metrics)
    assert run.data.metrics["val_loss"] == pytest.approx(float(trainer.callback_metrics["val_loss"]))

    kept = sorted(os.path.basename(p) for p in checkpoint.best_k_models)
    assert len(kept) == 2
    assert os.path.dirname(checkpoint.best_model_path) == os.path.join(
        tmp_path / "mlruns", logger.experiment_id, logger.run_id, "checkpoints")
    stems = sorted(name[:-len(".ckpt")] for name in kept)
    assert sorted(folders) == stems
    assert all(f"{stem}/{stem}.ckpt" in folders[stem] and f"{stem}/metadata.yaml" in folders[stem] for stem in stems)
