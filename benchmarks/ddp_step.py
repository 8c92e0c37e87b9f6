"""Per-step cost of 2-process DDP on CPU (gloo): fhooks.Trainer against Lightning's Trainer, same model and data.

    python benchmarks/ddp_step.py            # 400 steps per run, 3 rounds of both, alternating
    python benchmarks/ddp_step.py --quick    # 100 steps, 1 round

Each run is a separate ``python`` that starts its second process the way each trainer does; the time is taken on
rank zero from the start of the first training batch to the end of training (process start, imports and set-up
are not counted), divided by the steps. The model is an MLP (64-256-256-1, batch 32 per rank, SGD), one thread
per process. Results print as a table: the median per-step time of each trainer.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

HERE = os.path.dirname(os.path.abspath(__file__))


def data(steps: int) -> TensorDataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(steps * 64, 64, generator=g)
    return TensorDataset(x, x.sum(dim=1, keepdim=True))


def module_class():
    import lightning.pytorch as pl

    class Mlp(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.net = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                           torch.nn.ReLU(), torch.nn.Linear(256, 1))
            self.started = self.ended = 0.0

        def training_step(self, batch, batch_idx):
            if batch_idx == 1:
                self.started = time.perf_counter()  # the first step (DDP's first bucket set-up) is not counted
            x, y = batch
            return torch.nn.functional.mse_loss(self.net(x), y)

        def on_train_end(self) -> None:
            self.ended = time.perf_counter()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.001)

    return Mlp


def run_one(kind: str, steps: int, out: str) -> None:
    torch.set_num_threads(1)
    options = {"strategy": "ddp", "devices": 2, "accelerator": "cpu", "max_epochs": 1, "logger": False,
               "enable_checkpointing": False, "enable_progress_bar": False, "enable_model_summary": False}
    if kind == "fhooks":
        from fhooks import Trainer
    else:
        from lightning.pytorch import Trainer
    trainer = Trainer(**options)
    module = module_class()()
    trainer.fit(module, DataLoader(data(steps), batch_size=32))
    if trainer.global_rank == 0:
        with open(out, "w") as f:
            json.dump({"per_step": (module.ended - module.started) / (steps - 1)}, f)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--run", nargs=3, metavar=("KIND", "STEPS", "OUT"))
    args = parser.parse_args()
    if args.run:
        run_one(args.run[0], int(args.run[1]), args.run[2])
        return
    steps, rounds = (100, 1) if args.quick else (400, 3)
    times: dict[str, list[float]] = {"fhooks": [], "lightning": []}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(HERE), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryDirectory() as folder:
        for r in range(rounds):
            for kind in (("fhooks", "lightning") if r % 2 == 0 else ("lightning", "fhooks")):
                out = os.path.join(folder, f"{kind}{r}.json")
                subprocess.run([sys.executable, os.path.abspath(__file__), "--run", kind, str(steps), out],
                               cwd=folder, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                with open(out) as f:
                    times[kind].append(json.load(f)["per_step"])
    print(f"{steps} steps x {rounds} rounds, 2 processes, gloo, torch {torch.__version__}")
    print("| trainer | median per step | runs |")
    print("| --- | --- | --- |")
    for kind, found in times.items():
        print(f"| {kind} | {statistics.median(found) * 1e3:.3f} ms | " + ", ".join(f"{t * 1e3:.3f}" for t in found)
              + " |")


if __name__ == "__main__":
    main()
