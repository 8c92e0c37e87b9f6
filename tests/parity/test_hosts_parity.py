"""One hook expression, three hosts: ``fhooks.Trainer``, Lightning's Trainer via ``as_callback``, a hand loop via ``attach``.

The expression (early stopping, top-2 checkpointing, an LR monitor and a ``lambda_hook`` that
logs the metric it sees) runs on one model and one data set under each host. The decisions
(kind, epoch, step, effect), the stop epoch, the kept checkpoint files (by name, with equal
weights inside) and the values the hooks logged must agree.
"""

from __future__ import annotations

import os
import warnings

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import fhooks
import fhooks.lightning
from fhooks import Log, lambda_hook
from fhooks.hooks import early_stopping, learning_rate_monitor, model_checkpoint

L = pytest.importorskip("lightning")
pytestmark = pytest.mark.parity

EPOCHS, BATCHES = 30, 4
TRAIN = DataLoader(TensorDataset(torch.ones(BATCHES * 2, 1), torch.ones(BATCHES * 2, 1)), batch_size=2)
VAL = DataLoader(TensorDataset(torch.ones(2, 1), torch.full((2, 1), 0.5)), batch_size=2)


def expression():
    return [
        early_stopping("val_loss", patience=2),
        model_checkpoint(monitor="val_loss", save_top_k=2),
        learning_rate_monitor(logging_interval="epoch"),
        lambda_hook(on_train_epoch_end=lambda e: Log({"seen_val_loss": e.metrics["val_loss"]})),
    ]


def initial_weights():
    return {"weight": torch.zeros(1, 1), "bias": torch.full((1,), -1.0)}


class Net(torch.nn.Module):
    """Learns y=1 from x=1; validation asks for 0.5, so val_loss falls, then rises: early stopping fires."""

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.layer.load_state_dict(initial_weights())

    def loss(self, batch):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def training_step(self, batch, batch_idx):
        loss = self.loss(batch)
        self.log("loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self.loss(batch))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.02)


class LightningNet(Net, L.LightningModule):
    pass


class Recorder:
    """A logger for fhooks hosts: every row it was given."""

    def __init__(self):
        self.rows = []

    def log_metrics(self, metrics, step=None):
        self.rows.append(dict(metrics))


def lightning_recorder():
    from lightning.pytorch.loggers import Logger

    class LightningRecorder(Logger):
        name, version, rows = "recorder", 0, None

        def __init__(self):
            super().__init__()
            self.rows = []

        def log_hyperparams(self, params, *args, **kwargs):
            pass

        def log_metrics(self, metrics, step=None):
            self.rows.append(dict(metrics))

    return LightningRecorder()


def run_fhooks():
    logger = Recorder()
    trainer = fhooks.Trainer(callbacks=expression(), max_epochs=EPOCHS, logger=logger,
                             enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                             default_root_dir=os.path.abspath("fh"), accelerator="cpu")  # relative: issue 9 item 3
    trainer.fit(Net(), TRAIN, VAL)
    return trainer.decisions, logger.rows, trainer.checkpoint_dir


def run_lightning():
    logger = lightning_recorder()
    callback = fhooks.lightning.as_callback(expression())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = L.Trainer(callbacks=[callback], max_epochs=EPOCHS, logger=logger,
                            enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                            default_root_dir="pl", accelerator="cpu", log_every_n_steps=1)
        trainer.fit(LightningNet(), TRAIN, VAL)
    return callback.decisions, logger.rows, callback.host.checkpoint_dir


def run_hand_loop():
    logger = Recorder()
    model = Net()
    optimizer = model.configure_optimizers()
    host = fhooks.attach(expression(), model, [optimizer], dirpath=os.path.join("hand", "checkpoints"), logger=logger)
    for kind in ("setup", "fit_start", "train_start"):
        host.emit(kind)
    for _ in range(EPOCHS):
        host.emit("train_epoch_start")
        for batch_idx, batch in enumerate(TRAIN):
            host.emit("train_batch_start", batch_idx=batch_idx)
            loss = model.loss(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            host.emit("train_batch_end", batch_idx=batch_idx, metrics={"loss": loss.detach()})
        with torch.no_grad():
            val_loss = model.loss(next(iter(VAL)))
        host.emit("validation_end", metrics={"val_loss": val_loss})
        host.emit("train_epoch_end")
        if host.should_stop:
            break
    host.emit("train_end")
    host.emit("fit_end")
    return host.decisions, logger.rows, host.checkpoint_dir


def summary(decisions):
    """What a decision says, with checkpoint paths by file name (each host has its own folder)."""
    out = []
    for d in decisions:
        effect = d.effect
        detail = os.path.basename(effect.path) if hasattr(effect, "path") else repr(effect)
        out.append((d.kind, d.epoch, d.step, type(effect).__name__, detail))
    return out


def hook_rows(rows):
    """The values the hooks logged (the module's own self.log rows differ by host and are left out)."""
    keys = ("lr-SGD", "seen_val_loss")
    return [{k: v for k, v in row.items() if k in keys} for row in rows if any(k in row for k in keys)]


def kept(folder):
    return {name: torch.load(os.path.join(folder, name), weights_only=False)["state_dict"]
            for name in sorted(os.listdir(folder)) if name.endswith(".ckpt")}


def test_three_hosts_decide_keep_and_log_the_same(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    results = {"fhooks": run_fhooks(), "lightning": run_lightning(), "hand": run_hand_loop()}
    decisions = {host: summary(r[0]) for host, r in results.items()}
    stops = [d for d in decisions["fhooks"] if d[3] == "Stop"]
    assert len(stops) == 1 and 2 < stops[0][1] < EPOCHS - 1  # a real early stop, not the epoch limit
    assert decisions["lightning"] == decisions["fhooks"]
    assert decisions["hand"] == decisions["fhooks"]
    logged = {host: hook_rows(r[1]) for host, r in results.items()}
    assert logged["fhooks"] and logged["lightning"] == logged["fhooks"] and logged["hand"] == logged["fhooks"]
    files = {host: kept(r[2]) for host, r in results.items()}
    assert len(files["fhooks"]) == 2
    for host in ("lightning", "hand"):
        assert sorted(files[host]) == sorted(files["fhooks"])
        for name, weights in files["fhooks"].items():
            assert files[host][name].keys() == weights.keys()
            for key, value in weights.items():
                assert torch.equal(value, files[host][name][key]), (host, name, key)
