"""Run by test_lightning_ddp.py: Lightning DDP on CPU (gloo, 2 processes) with a stop met on rank 1 only.

Usage: python ddp_script.py STRATEGY OUT_DIR. Each rank writes OUT_DIR/rank<r>.json at teardown.
"""

import json
import os
import sys
import warnings

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

import fhooks.lightning
from fhooks import Log, Stop, lambda_hook
from fhooks.hooks import model_checkpoint


def stop_on_rank_one(event):
    """A stop condition only rank 1 meets (a rank-local metric or clock would do the same)."""
    return Stop("rank 1 saw step 5") if event.rank == 1 and event.step == 5 else None


def log_step(event):
    return Log({"step_seen": float(event.step)})


class Net(pl.LightningModule):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(1, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class Record(pl.Callback):
    """Writes what this rank saw: counters, the fhooks callback's decisions, the final weights."""

    def __init__(self, hooks, out):
        self.hooks, self.out = hooks, out

    def teardown(self, trainer, pl_module, stage):
        record = {"rank": trainer.global_rank, "world_size": trainer.world_size, "global_step": trainer.global_step,
                  "epoch": trainer.current_epoch, "stop_reason": self.hooks.stop_reason,
                  "decisions": [str(d) for d in self.hooks.decisions],
                  "weights": [p.detach().flatten().tolist() for p in pl_module.parameters()]}
        with open(os.path.join(self.out, f"rank{trainer.global_rank}.json"), "w") as f:
            json.dump(record, f)


def main(strategy, out):
    warnings.simplefilter("ignore")
    hooks = fhooks.lightning.as_callback([
        lambda_hook(on_train_batch_end=stop_on_rank_one),
        lambda_hook(on_train_batch_end=log_step),
        model_checkpoint(every_n_train_steps=2, save_top_k=-1),
    ])
    xs = torch.linspace(0, 1, 32).unsqueeze(1)
    data = DataLoader(TensorDataset(xs, 2 * xs), batch_size=2)
    trainer = pl.Trainer(strategy=strategy, accelerator="cpu", devices=2, max_epochs=3, callbacks=[hooks, Record(hooks, out)],
                         logger=pl.loggers.CSVLogger(os.path.join(out, "logs")), enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=os.path.join(out, "root"))
    trainer.fit(Net(), data)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
