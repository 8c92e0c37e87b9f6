"""Run by test_trainer_ddp.py (and tests/parity/test_trainer_ddp_parity.py): fhooks.Trainer under DDP on CPU.

Usage: python trainer_ddp_script.py MODE OUT_DIR, where MODE is
  fit       strategy="ddp", devices=2: a fit with a checkpoint every step, a resume from a mid-epoch one, then
            a fit where only rank 1 asks to stop, at step 3 (three trainers in the same processes);
  once      the first fit alone, without files;
  spawn     strategy="ddp_spawn", devices=2: the same fit (rank zero's weights come back to the caller);
  kill      rank 1 dies at step 2 (os._exit); rank 0 must fail, not hang;
  lightning Lightning's own Trainer(strategy="ddp", devices=2) on the same set-up.
Each rank writes OUT_DIR/<mode>-rank<r>.json (rank zero also the weights in OUT_DIR/<mode>-weights.pt).
"""

import json
import os
import sys
from datetime import timedelta

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

import fhooks
from fhooks import DDPStrategy, Do, Stop, lambda_hook, rank_zero, sequence
from fhooks.callbacks import ModelCheckpoint

EPOCHS = 2
BATCH = 16  # per rank; one process with batch 32 reads the same samples per step


def dataset():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(96, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1 * torch.randn(96, 1, generator=g)
    return TensorDataset(x, y)


class Net(pl.LightningModule):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss, sync_dist=True, on_step=True, on_epoch=True)
        self.log("local_loss", loss, on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def weights(module):
    return {k: v.tolist() for k, v in module.state_dict().items()}


def report(out, mode, trainer, module, **more):
    seen = {"rank": trainer.global_rank, "world_size": trainer.world_size, "local_rank": trainer.local_rank,
            "global_step": trainer.global_step, "epoch": trainer.current_epoch, "stop_reason": trainer.stop_reason,
            "is_global_zero": trainer.is_global_zero, "weights": weights(module),
            "callback_metrics": {k: float(v) for k, v in trainer.callback_metrics.items()}, **more}
    with open(os.path.join(out, f"{mode}-rank{trainer.global_rank}.json"), "w") as f:
        json.dump(seen, f)
    if trainer.global_rank == 0:
        torch.save(module.state_dict(), os.path.join(out, f"{mode}-weights.pt"))


def trainer(strategy="ddp", callbacks=(), max_epochs=EPOCHS, **kwargs):
    return fhooks.Trainer(strategy=strategy, devices=2, accelerator="cpu", max_epochs=max_epochs, callbacks=list(callbacks),
                          enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=1, **kwargs)


def fit(out):
    seen = []
    record = sequence(lambda_hook(on_fit_start=lambda e: seen.append([e.rank, e.data.world_size, e.data.global_rank])),
                      rank_zero(lambda_hook(on_fit_start=lambda e: Do(lambda ctx: seen.append("rank zero's")))))
    every_step = ModelCheckpoint(every_n_train_steps=1, save_top_k=-1, filename="{step}")
    first = trainer(callbacks=[record, every_step], default_root_dir="runs")
    module = Net()
    first.fit(module, DataLoader(dataset(), batch_size=BATCH))
    report(out, "fit", first, module, events=seen, checkpoint_dir=str(first.checkpoint_dir))
    folder = first.checkpoint_dir
    same = [sequence(lambda_hook(on_fit_start=lambda e: None), rank_zero(lambda_hook(on_fit_start=lambda e: None))),
            ModelCheckpoint(every_n_train_steps=1, save_top_k=-1, filename="{step}")]
    resumed = trainer(callbacks=same, default_root_dir="resumed", logger=False)
    again = Net()
    resumed.fit(again, DataLoader(dataset(), batch_size=BATCH), ckpt_path=os.path.join(folder, "step=4.ckpt"))
    report(out, "resume", resumed, again)
    stop(out)


def once(out):
    run = trainer(logger=False, enable_checkpointing=False)
    module = Net()
    run.fit(module, DataLoader(dataset(), batch_size=BATCH))
    report(out, "once", run, module)


def spawn(out):
    run = trainer("ddp_spawn", logger=False, enable_checkpointing=False)
    module = Net()
    run.fit(module, DataLoader(dataset(), batch_size=BATCH))
    report(out, "spawn", run, module)


def stop(out):
    at_step_three = lambda_hook(on_train_batch_end=lambda e: Stop("rank 1 saw step 3")
                                if e.rank == 1 and e.step == 3 else None)
    run = trainer(callbacks=[at_step_three], logger=False, enable_checkpointing=False, max_epochs=10)
    module = Net()
    run.fit(module, DataLoader(dataset(), batch_size=BATCH))
    report(out, "stop", run, module)


def kill(out):
    die = lambda_hook(on_train_batch_end=lambda e: os._exit(3) if e.rank == 1 and e.step == 2 else None)
    run = trainer(DDPStrategy(timeout=timedelta(seconds=30)), callbacks=[die], logger=False,
                  enable_checkpointing=False, max_epochs=50)
    run.fit(Net(), DataLoader(dataset(), batch_size=BATCH))


def lightning(out):
    run = pl.Trainer(strategy="ddp", devices=2, accelerator="cpu", max_epochs=EPOCHS, logger=False,
                     enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    module = Net()
    run.fit(module, DataLoader(dataset(), batch_size=BATCH))
    if run.global_rank == 0:
        torch.save(module.state_dict(), os.path.join(out, "lightning-weights.pt"))


if __name__ == "__main__":
    {"fit": fit, "once": once, "spawn": spawn, "kill": kill, "lightning": lightning}[sys.argv[1]](sys.argv[2])
