"""Per-step cost of the fhooks trainer against a hand-written loop, Lightning and Ignite.

Every variant trains the same tiny MLP (32-64-1, batch 32, SGD) on the same pre-built
batches with one CPU thread. Runs alternate variant by variant, round after round, so
drift of the machine cancels; the report gives the median microseconds per step, the
ratio to the hand-written loop, and each overhead as the median of round-by-round
differences (its time minus the hand loop's). A last line times a fold of 1,000,000
events through a 5-hook expression. docs/benchmarks.md has the figures.

    python benchmarks/overhead.py            # about two minutes
    python benchmarks/overhead.py --quick    # a smoke run
    python benchmarks/overhead.py --sizes --steps 1000 --rounds 5   # the ratios on larger models
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import io
import math
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable

import torch

from fhooks import Event, Log, SaveCheckpoint, Trainer, every_n, fold, on, sequence, stateful, when
import fhooks.display  # noqa: F401  (registers the progress bar's renderers)
from fhooks.callbacks.progress import TQDMProgressBar
from fhooks.hooks import early_stopping

torch.set_num_threads(1)


class Batches:
    """Pre-built batches as one iterable with a length (a plain list would be read by Lightning as many loaders)."""

    def __init__(self, items: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.items = items

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, part: slice) -> Batches:
        return Batches(self.items[part])


def batches(steps: int, size: int = 32) -> Batches:
    """``steps`` batches of ``size`` samples of 32 features and one target."""
    g = torch.Generator().manual_seed(0)
    return Batches([(torch.randn(size, 32, generator=g), torch.randn(size, 1, generator=g)) for _ in range(steps)])


def mlp(hidden: int = 64) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(32, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))


class Module(torch.nn.Module):
    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.net = mlp(hidden)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def hand_loop(data, _dir, hidden: int = 64) -> None:
    model = mlp(hidden)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    for x, y in data:
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def hand_loop_module(data, _dir, hidden: int = 64) -> None:
    """The hand-written loop calling the fhooks variant's own module, so the user's code costs the same on both
    sides (its ``training_step`` reaches ``self.net`` through ``nn.Module.__getattr__``)."""
    module = Module(hidden)
    optimizer = module.configure_optimizers()
    for batch_idx, batch in enumerate(data):
        loss = module.training_step(batch, batch_idx)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def hand_loop_same_work(data, directory, hidden: int = 64) -> None:
    """The hand-written loop doing the typical stack's work: the loss read every 50 steps, a checkpoint every 500."""
    model = mlp(hidden)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    best = math.inf
    for step, (x, y) in enumerate(data, 1):
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0:
            best = min(best, loss.item())
        if step % 500 == 0:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step},
                       os.path.join(directory, "every-500.ckpt"))


def typical_stack():
    """A stop rule, a checkpoint every 500 steps, and step logging every 50 steps."""
    return [
        early_stopping("loss", patience=1000, check_on_train_epoch_end=True),
        every_n(500, on("train_batch_end", lambda e: SaveCheckpoint("every-500.ckpt"))),
        every_n(50, on("train_batch_end", lambda e: Log({"loss": e.metrics["loss"]}))),
    ]


class _Terminal(io.StringIO):
    """Where the benchmarked bar draws: says it is a terminal, so tqdm (not plain lines) renders."""

    def isatty(self) -> bool:
        return True


def fhooks_trainer(stack: bool, bar: bool = False, hidden: int = 64) -> Callable:
    def run(data, directory) -> None:
        callbacks = (typical_stack() if stack else []) + ([TQDMProgressBar()] if bar else [])
        trainer = Trainer(callbacks=callbacks or None, max_epochs=1, enable_checkpointing=False, logger=False,
                          enable_progress_bar=bar, enable_model_summary=False, default_root_dir=directory)
        with contextlib.redirect_stdout(_Terminal()) if bar else contextlib.nullcontext():
            trainer.fit(Module(hidden), data)

    return run


def lightning_trainer(data, directory, bar: bool = False, hidden: int = 64) -> None:
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    class LitModule(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = mlp(hidden)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("loss", loss, on_step=True, on_epoch=True)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    callbacks = [EarlyStopping("loss", patience=1000, check_on_train_epoch_end=True),
                 ModelCheckpoint(dirpath=directory, every_n_train_steps=500, save_top_k=-1)]
    trainer = L.Trainer(max_epochs=1, callbacks=callbacks, logger=False, enable_progress_bar=bar,
                        enable_model_summary=False, accelerator="cpu", log_every_n_steps=50, num_sanity_val_steps=0)
    with contextlib.redirect_stdout(_Terminal()) if bar else contextlib.nullcontext():
        trainer.fit(LitModule(), data)


def ignite_trainer(data, directory, resumable: bool = False, hidden: int = 64) -> None:
    """Ignite with the typical stack's handlers; ``resumable``: its checkpoint holds what Ignite's docs save to
    resume (model, optimizer, the engine's state), as fhooks' does, instead of the model's weights only."""
    from ignite.engine import Engine, Events
    from ignite.handlers import EarlyStopping, ModelCheckpoint

    model = mlp(hidden)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    def update(engine, batch):
        x, y = batch
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.detach()

    engine = Engine(update)
    losses: list[float] = []
    engine.add_event_handler(Events.ITERATION_COMPLETED(every=50), lambda e: losses.append(float(e.state.output)))
    stopper = EarlyStopping(patience=1000, score_function=lambda e: -float(e.state.output), trainer=engine)
    engine.add_event_handler(Events.EPOCH_COMPLETED, stopper)
    saver = ModelCheckpoint(directory, "every500", n_saved=None, require_empty=False)
    to_save = {"model": model, "optimizer": optimizer, "trainer": engine} if resumable else {"model": model}
    engine.add_event_handler(Events.ITERATION_COMPLETED(every=500), saver, to_save)
    engine.run(data, max_epochs=1)


def measure(variants: dict[str, Callable], steps: int, rounds: int, size: int = 32) -> dict[str, list[float]]:
    data = batches(steps, size)
    timings: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in names:  # warm up: imports, first-call costs
            with tempfile.TemporaryDirectory() as directory:
                variants[name](data[:50], directory)
        for r in range(rounds):
            order = names[r % len(names):] + names[: r % len(names)]
            for name in order:
                with tempfile.TemporaryDirectory() as directory:
                    start = time.perf_counter()
                    variants[name](data, directory)
                    timings[name].append((time.perf_counter() - start) / steps * 1e6)
    return timings


def paired(a: list[float], b: list[float]) -> float:
    """The median of round-by-round differences ``a - b``: each pair ran back to back, so drift cancels."""
    return statistics.median(x - y for x, y in zip(a, b))


def fold_expression():
    """Five hooks on ``train_batch_end``: a counter, two filtered effects, a guarded no-op, early stopping."""
    return sequence(
        stateful(0, lambda n, e: (n + 1, None), kinds="train_batch_end", name="count"),
        every_n(500, on("train_batch_end", lambda e: SaveCheckpoint("last.ckpt"))),
        every_n(50, on("train_batch_end", lambda e: Log({"loss": e.metrics["loss"]}))),
        when(lambda e: e.step > 10, on("train_batch_end", lambda e: None)),
        early_stopping("loss", patience=3, check_on_train_epoch_end=True),
    )


def fold_seconds(events: int = 1_000_000) -> float:
    stream = [Event("train_batch_end", step=i, metrics={"loss": 1.0 / (i + 1)}) for i in range(events)]
    expression = fold_expression()
    start = time.perf_counter()
    fold(expression, stream)
    return time.perf_counter() - start


SIZES = ((64, 32), (512, 256), (2048, 512))  # (hidden width, batch size): steps of about 0.15, 1 and 10 ms here


def sizes(steps: int, rounds: int) -> None:
    """The same loops on larger models: the loop's overhead per step stays, the ratios shrink."""
    print(f"{steps} steps x {rounds} alternating rounds per size, 1 thread; ratio = median us/step / the hand loop's")
    print(f"{'model':<22}{'hand us/step':>13}{'fhooks none':>13}{'fhooks stack':>14}{'ignite':>9}{'lightning':>11}")
    for hidden, size in SIZES:
        variants: dict[str, Callable] = {
            "hand": functools.partial(hand_loop, hidden=hidden),
            "none": fhooks_trainer(stack=False, hidden=hidden),
            "stack": fhooks_trainer(stack=True, hidden=hidden),
        }
        if importlib.util.find_spec("ignite"):
            variants["ignite"] = functools.partial(ignite_trainer, hidden=hidden)
        if importlib.util.find_spec("lightning"):
            variants["lightning"] = functools.partial(lightning_trainer, hidden=hidden)
        timings = measure(variants, steps, rounds, size)
        hand = statistics.median(timings["hand"])
        ratios = [f"{statistics.median(timings[name]) / hand:.3f}" if name in timings else "-"
                  for name in ("none", "stack", "ignite", "lightning")]
        print(f"{f'32-{hidden}-1, batch {size}':<22}{hand:>13.1f}{ratios[0]:>13}{ratios[1]:>14}{ratios[2]:>9}{ratios[3]:>11}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="200 steps, 2 rounds")
    parser.add_argument("--sizes", action="store_true", help="the ratios on three model sizes (about 0.15, 1, 10 ms a step)")
    args = parser.parse_args()
    steps, rounds = (200, 2) if args.quick else (args.steps, args.rounds)
    if args.sizes:
        sizes(steps, rounds)
        return

    variants: dict[str, Callable] = {
        "hand-written loop": hand_loop,
        "hand-written loop, same work": hand_loop_same_work,
        "hand-written loop, same module": hand_loop_module,
        "fhooks, no hooks": fhooks_trainer(stack=False),
        "fhooks, typical stack": fhooks_trainer(stack=True),
        "fhooks, typical stack + tqdm bar": fhooks_trainer(stack=True, bar=True),
    }
    if importlib.util.find_spec("lightning"):
        variants["lightning, typical stack"] = lightning_trainer
        variants["lightning, typical stack + tqdm bar"] = functools.partial(lightning_trainer, bar=True)
    if importlib.util.find_spec("ignite"):
        variants["ignite, typical stack"] = ignite_trainer
        variants["ignite, typical stack, resumable checkpoint"] = functools.partial(ignite_trainer, resumable=True)
    timings = measure(variants, steps, rounds)
    base = statistics.median(timings["hand-written loop"])
    print(f"{steps} steps x {rounds} alternating rounds, 1 thread, median us/step")
    print(f"{'variant':<40}{'us/step':>10}{'ratio':>8}{'overhead us':>13}")
    overheads = {}
    for name, values in timings.items():
        median = statistics.median(values)
        overheads[name] = paired(timings[name], timings["hand-written loop"])
        print(f"{name:<40}{median:>10.1f}{median / base:>8.3f}{overheads[name]:>13.1f}")
    same_work = paired(timings["fhooks, typical stack"], timings["hand-written loop, same work"])
    print(f"fhooks typical stack over the hand loop doing the same work: {same_work:+.1f} us/step, "
          f"{100 * same_work / statistics.median(timings['hand-written loop, same work']):+.1f}%")
    own = paired(timings["fhooks, no hooks"], timings["hand-written loop, same module"])
    print(f"fhooks with no hooks over the hand loop calling the same module: {own:+.1f} us/step, "
          f"{100 * own / statistics.median(timings['hand-written loop, same module']):+.1f}%")
    if "lightning, typical stack" in overheads:
        ratio = overheads["fhooks, typical stack"] / overheads["lightning, typical stack"]
        print(f"fhooks overhead / lightning overhead (typical stack): {ratio:.3f}")
    for ignite in ("ignite, typical stack", "ignite, typical stack, resumable checkpoint"):
        if ignite in overheads:
            print(f"fhooks overhead / {ignite} overhead: {overheads['fhooks, typical stack'] / overheads[ignite]:.2f}")
    bar = paired(timings["fhooks, typical stack + tqdm bar"], timings["fhooks, typical stack"])
    typical = statistics.median(timings["fhooks, typical stack"])
    print(f"tqdm bar (refresh_rate=1): {bar:+.1f} us/step, {100 * bar / typical:+.1f}% per step")
    if "lightning, typical stack + tqdm bar" in timings:
        lightning_bar = paired(timings["lightning, typical stack + tqdm bar"], timings["lightning, typical stack"])
        print(f"lightning's tqdm bar (refresh_rate=1): {lightning_bar:+.1f} us/step")
    print(f"fold of 1,000,000 events through a 5-hook expression: {fold_seconds():.3f} s")


if __name__ == "__main__":
    main()
