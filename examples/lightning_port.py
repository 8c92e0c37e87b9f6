"""A LightningModule and LightningDataModule written for Lightning, trained by fhooks: one import line changed.

Only ``import fhooks as L`` differs from the Lightning script (``import lightning.pytorch as L``): the module
logs with ``self.log`` (weighted epoch means, ``prog_bar``), saves its hyperparameters, and the trainer gets
Lightning's ``EarlyStopping`` and ``ModelCheckpoint``. Afterwards the best checkpoint is reloaded with
``load_from_checkpoint``. Runtime: about 5 s on 2 CPU cores:

    python examples/lightning_port.py
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset

import fhooks as L  # the Lightning script had: import lightning.pytorch as L
from fhooks.callbacks import EarlyStopping, ModelCheckpoint


class Regression(L.LightningDataModule):
    """y = 3x - 1 plus noise; 200 training and 50 validation samples (the last batches uneven)."""

    def __init__(self, batch_size: int = 32):
        super().__init__()
        self.batch_size = batch_size

    def setup(self, stage: str) -> None:
        generator = torch.Generator().manual_seed(0)
        x = torch.rand(250, 1, generator=generator)
        y = 3 * x - 1 + 0.05 * torch.randn(250, 1, generator=generator)
        self.train_set, self.val_set = TensorDataset(x[:200], y[:200]), TensorDataset(x[200:], y[200:])

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.batch_size)


class LinearModel(L.LightningModule):
    def __init__(self, lr: float = 0.1):
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(1, 1)

    def forward(self, x):
        return self.layer(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self(x), y), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def main() -> None:
    L.seed_everything(0)
    checkpoint = ModelCheckpoint(monitor="val_loss", save_top_k=1)
    trainer = L.Trainer(max_epochs=40, callbacks=[EarlyStopping("val_loss", patience=3, min_delta=1e-3), checkpoint],
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(LinearModel(lr=0.1), datamodule=Regression())
    print(f"trained {trainer.current_epoch} epochs: {trainer.stop_reason or 'max_epochs reached'}")
    print(f"val_loss {float(trainer.callback_metrics['val_loss']):.4f}, best checkpoint {checkpoint.best_model_path}")
    best = LinearModel.load_from_checkpoint(checkpoint.best_model_path)
    weight, bias = best.layer.weight.item(), best.layer.bias.item()
    print(f"reloaded: lr={best.hparams.lr}, y = {weight:.2f}x {bias:+.2f}")


if __name__ == "__main__":
    main()
