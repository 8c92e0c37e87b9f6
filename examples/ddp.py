"""Data-parallel training on CPU with ``fhooks.Trainer(strategy="ddp")``: the same script, three ways to run it.

    torchrun --nproc_per_node=2 examples/ddp.py   # torchrun starts 2 processes; each joins the world it finds
    python examples/ddp.py --devices 2            # the trainer starts the second process itself (the script again)
    python examples/ddp.py                        # one process: devices="auto" is 1 on CPU without a launcher

Each process reads its half of every batch of 32 (a ``DistributedSampler`` put in by the trainer), gradients are
averaged by ``DistributedDataParallel``, and an early stop met on any rank stops every rank at the same step.
Files (checkpoints, ``metrics.csv`` under ``lightning_logs/``) and printing are rank zero's. Seeded, so every run
with the same number of processes ends with the same weights.
"""

from __future__ import annotations

import argparse

import torch
from torch.utils.data import DataLoader, TensorDataset

from fhooks import Trainer
from fhooks.callbacks import EarlyStopping


def regression(n: int = 256) -> TensorDataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 8, generator=g)
    y = x @ torch.linspace(-1.0, 1.0, 8).unsqueeze(1) + 0.05 * torch.randn(n, 1, generator=g)
    return TensorDataset(x, y)


class Regressor(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss, on_epoch=True, sync_dist=True)  # averaged over the ranks
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y), sync_dist=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", default="auto", help="processes on this machine (default: torchrun's, or 1)")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    data = regression()
    trainer = Trainer(strategy="ddp", accelerator="cpu", devices=args.devices, max_epochs=args.epochs,
                      callbacks=[EarlyStopping(monitor="val_loss", patience=2)], enable_progress_bar=False,
                      log_every_n_steps=4)
    model = Regressor()
    trainer.fit(model, DataLoader(data, batch_size=16), DataLoader(data, batch_size=64))
    if trainer.is_global_zero:
        print(f"world_size={trainer.world_size} global_step={trainer.global_step} "
              f"val_loss={trainer.callback_metrics['val_loss']:.4f} logs={trainer.log_dir}")


if __name__ == "__main__":
    main()
