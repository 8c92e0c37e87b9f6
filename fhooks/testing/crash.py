"""A crash harness: train in a child process, kill it at a random moment, resume, compare with an uninterrupted run.

Each trial starts a fresh training in its own folder, sends it ``SIGKILL``,
``SIGINT`` (Ctrl-C) or ``SIGTERM`` after a random delay, then resumes it from the
newest checkpoint it left (the every-step ``last.ckpt`` or the ``on_exception.ckpt``
an interrupt wrote) until a run finishes. The final weights, optimizer state, step
and hook state must equal the uninterrupted run's (``torch.equal``). Children are
forked from a ``forkserver`` that imported torch once, so a kill costs milliseconds.

Run it from a script (children are forked, so guard with ``if __name__ == "__main__":``)::

    report = run_trials("crash-runs", kills=100)
    print(report.kills, report.resumes, report.exact, report.mismatches)

>>> Report(trials=2, kills=2, resumes=2, exact=2).mismatches
[]
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import signal
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

SIGNALS = ("SIGKILL", "SIGINT", "SIGTERM")
EPOCHS, BATCH_SIZE = 3, 8


@attrs.define
class Report:
    """What the harness saw: signals sent, those that hit a running training, resumes, exact final states."""

    trials: int = 0
    kills: int = 0
    missed: int = 0
    resumes: int = 0
    exact: int = 0
    by_signal: dict[str, int] = attrs.Factory(dict)
    mismatches: list[str] = attrs.Factory(list)
    seconds: float = 0.0


def _module() -> Any:
    import torch

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.net = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                           torch.nn.Linear(32, 1))

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x, y = batch
            return torch.nn.functional.mse_loss(self.net(x), y)

        def validation_step(self, batch: Any, batch_idx: int) -> Any:
            x, y = batch
            return {"val_loss": torch.nn.functional.mse_loss(self.net(x), y)}

        def configure_optimizers(self) -> Any:
            optimizer = torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.9)
            return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 1, 0.8)}

    return Net()


def _loader(n: int, shuffle: bool) -> Any:
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, 4, generator=g)
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=BATCH_SIZE, shuffle=shuffle)


def _newest(folder: Path) -> Path | None:
    found = [p for p in (folder / "ckpt" / "last.ckpt", folder / "ckpt" / "on_exception.ckpt") if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime_ns) if found else None


def train(folder: str, batches: int = 16) -> None:
    """One training run in ``folder``, resumed from the newest checkpoint there if any; writes ``final.pt`` when done.

    Its stderr goes to ``folder/stderr.txt`` (an interrupted child's traceback is expected there).
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with open(Path(folder) / "stderr.txt", "a") as err:
        os.dup2(err.fileno(), 2)
    import torch

    from fhooks import SaveCheckpoint, Trainer, on, stateful
    from fhooks.core.serialize import to_data
    from fhooks.hooks import early_stopping, on_exception_checkpoint
    from fhooks.trainer.checkpoint import write_atomic

    torch.set_num_threads(1)
    root = Path(folder).resolve()
    checkpoints = root / "ckpt"
    hooks = [on("train_batch_end", lambda e: SaveCheckpoint(str(checkpoints / "last.ckpt"))),
             stateful(0, lambda n, e: (n + 1, None), kinds={"train_batch_end", "validation_batch_end"}, name="seen"),
             early_stopping("val_loss", patience=100), on_exception_checkpoint(str(checkpoints))]
    trainer = Trainer(callbacks=hooks, max_epochs=EPOCHS, seed=5, logger=False, enable_progress_bar=False,
                      enable_model_summary=False, num_sanity_val_steps=0,
                      default_root_dir=root)
    module = _module()
    trainer.fit(module, _loader(batches * BATCH_SIZE, True), _loader(2 * BATCH_SIZE, False), ckpt_path=_newest(root))
    write_atomic({"state_dict": module.state_dict(), "optimizer": trainer.optimizers[0].state_dict(),
                  "step": trainer.global_step, "hooks": to_data(trainer.dispatcher.state[1:3])}, root / "final.pt")


def _same(a: Path, b: Path) -> str | None:
    """None when the two final states are identical, else what differs."""
    import torch

    x, y = (torch.load(p, weights_only=True) for p in (a, b))
    if x["step"] != y["step"] or x["hooks"] != y["hooks"]:
        return f"step/hooks {x['step']}/{y['step']}"
    for key, value in x["state_dict"].items():
        if not torch.equal(value, y["state_dict"][key]):
            return f"weight {key}"
    for key, state in x["optimizer"]["state"].items():
        if not torch.equal(state["momentum_buffer"], y["optimizer"]["state"][key]["momentum_buffer"]):
            return f"momentum of parameter {key}"
    return None


@contextlib.contextmanager
def _this_fhooks_on_path() -> Iterator[None]:
    """Let the forkserver (started now, with this environment) import the fhooks this process uses."""
    root = str(Path(__file__).resolve().parents[2])
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = root + (os.pathsep + old if old else "")
    try:
        yield
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old


def _nothing() -> None:
    """A child that does nothing."""


def _start(context: Any, folder: Path, batches: int) -> Any:
    process = context.Process(target=train, args=(str(folder), batches))
    process.start()
    return process


def run_trials(base: str | os.PathLike[str], kills: int, seed: int = 0, signals: Sequence[str] = SIGNALS,
               kills_per_trial: int = 1, batches: int = 16, timeout: float = 120.0) -> Report:
    """Run trials until ``kills`` signals hit a running training (``signals`` in turn, after a random delay within
    the uninterrupted run's time); returns the :class:`Report`. Each epoch has ``batches`` batches."""
    started = time.monotonic()
    base = Path(base)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["torch", "fhooks", "fhooks.testing.crash"])
    rng = random.Random(seed)
    warm_up = context.Process(target=_nothing)  # boots the forkserver, so the reference's time is training time
    with _this_fhooks_on_path():
        warm_up.start()
    warm_up.join(timeout)
    reference = base / "reference"
    reference.mkdir(parents=True)
    t0 = time.monotonic()
    process = _start(context, reference, batches)
    process.join(timeout)
    duration = time.monotonic() - t0
    if process.exitcode != 0:
        raise RuntimeError(f"the reference run failed (exit code {process.exitcode})")
    report = Report()
    while report.kills < kills:
        report.trials += 1
        folder = base / f"trial{report.trials}"
        folder.mkdir()
        finished = False
        for _ in range(kills_per_trial):
            name = signals[report.kills % len(signals)]  # the next signal waits until this one hits a run
            process = _start(context, folder, batches)
            time.sleep(rng.uniform(0.0, duration))
            if process.exitcode is None:
                os.kill(process.pid, getattr(signal, name))
            process.join(timeout)
            if process.exitcode == 0:
                finished = True
                report.missed += 1
                break
            report.kills += 1
            report.by_signal[name] = report.by_signal.get(name, 0) + 1
        while not finished:
            report.resumes += 1
            process = _start(context, folder, batches)
            process.join(timeout)
            finished = process.exitcode == 0
            if not finished:
                report.mismatches.append(f"trial {report.trials}: the resumed run failed (exit {process.exitcode})")
                break
        if finished:
            difference = _same(reference / "final.pt", folder / "final.pt")
            if difference is None:
                report.exact += 1
            else:
                report.mismatches.append(f"trial {report.trials}: {difference}")
    report.seconds = time.monotonic() - started
    return report
