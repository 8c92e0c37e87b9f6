"""The same hooks in a loop you wrote yourself: ``fhooks.attach`` turns your loop's moments into events.

A plain PyTorch loop fits y = 3x - 1. It tells the host what happened (``emit``) and asks whether to stop
(``host.should_stop``); the host carries out what the hooks decide: early stopping, keeping the two best
checkpoints (atomic files holding the module, the optimizer and the hooks' state) and logging.
Runtime: about 4 s on 2 CPU cores:

    python examples/hand_loop.py
"""

from __future__ import annotations

import os

import torch

import fhooks
from fhooks import Log, lambda_hook
from fhooks.hooks import early_stopping, model_checkpoint


def hooks():
    return [early_stopping("val_loss", patience=3, min_delta=1e-3),
            model_checkpoint(monitor="val_loss", save_top_k=2),
            lambda_hook(on_train_epoch_end=lambda e: Log({"val_loss": e.metrics["val_loss"]}))]


def main() -> None:
    torch.manual_seed(0)
    x = torch.rand(250, 1)
    y = 3 * x - 1 + 0.05 * torch.randn(250, 1)
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    host = fhooks.attach(hooks(), model, [optimizer], dirpath="hand_checkpoints")
    host.emit("fit_start")
    for epoch in range(100):
        host.emit("train_epoch_start")
        for batch_idx, start in enumerate(range(0, 200, 32)):
            loss = torch.nn.functional.mse_loss(model(x[start:start + 32]), y[start:start + 32])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            host.emit("train_batch_end", batch_idx=batch_idx, metrics={"loss": loss.detach()})
        with torch.no_grad():
            host.emit("validation_end", metrics={"val_loss": torch.nn.functional.mse_loss(model(x[200:]), y[200:])})
        host.emit("train_epoch_end")
        if host.should_stop:
            break
    host.emit("fit_end")
    print(f"stopped at epoch {epoch}: {host.stop_reason}")
    print("kept:", ", ".join(sorted(os.listdir("hand_checkpoints"))))
    print(f"{len(host.decisions)} decisions, the last: {host.decisions[-1]}")


if __name__ == "__main__":
    main()
