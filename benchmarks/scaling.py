"""How fhooks' costs scale: the fold's events per second, per-step overhead against the number of hooks,
and memory against the length of an epoch.

1. fold: 1,000,000 ``train_batch_end`` events through the 5-hook expression of ``overhead.py``;
   the best of ``--repeats`` runs, in wall-clock and in process (CPU) seconds.
2. hooks: the dispatch alone (one ``train_batch_end`` per step folded through N hooks), then ``fhooks.Trainer`` on the tiny MLP of ``overhead.py``, with N = 0, 1, 10, 100, 1000 hooks,
   either all hearing ``train_batch_end`` (a ``Log`` every 50 batches each) or all hearing only
   ``validation_end`` (never sent here: they should cost nothing per step). Runs alternate, round
   after round; the overhead is the median round-by-round difference to N = 0, in µs per step.
3. memory: one epoch of 1,000 to 100,000 steps of a one-parameter model, each batch made fresh,
   under the typical stack (whose ``Log`` every 50 steps and checkpoints are recorded in the
   decision log, about 0.75 KB each) and under a stack with no recorded effects; the peak of
   Python's traced heap (``tracemalloc``) should grow only by the decision log.

    PYTHONPATH=. python benchmarks/scaling.py           # a few minutes
    PYTHONPATH=. python benchmarks/scaling.py --quick   # a smoke run
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc
import warnings

import torch

from benchmarks.overhead import Module, batches, fold_expression, typical_stack
from fhooks import Event, Log, Trainer, every_n, fold, on, sequence, stateful
from fhooks.hooks import early_stopping

torch.set_num_threads(1)


def fold_rate(events: int, repeats: int) -> tuple[float, float]:
    """Best wall-clock and process seconds to fold ``events`` events through the 5-hook expression."""
    stream = [Event("train_batch_end", step=i, metrics={"loss": 1.0 / (i + 1)}) for i in range(events)]
    walls, cpus = [], []
    for _ in range(repeats):
        expression = fold_expression()
        wall, cpu = time.perf_counter(), time.process_time()
        fold(expression, stream)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def hooks_of(n: int, heard: bool) -> list:
    if heard:
        return [every_n(50, on("train_batch_end", lambda e: Log({"loss": e.metrics["loss"]}))) for _ in range(n)]
    return [on("validation_end", lambda e: Log({"val": 1.0})) for _ in range(n)]


class Timed(Module):
    """The benchmark's module, timing its training epoch from its first batch's start to the epoch's end.

    In process time (one thread): on a shared machine, time spent descheduled would swamp the µs measured.
    """

    def on_train_batch_start(self, batch, batch_idx):
        if batch_idx == 0:
            self.started = time.process_time()

    def on_train_epoch_end(self):
        self.seconds = time.process_time() - self.started


def dispatch_cost(n: int, heard: bool, steps: int = 2000, repeats: int = 5) -> float:
    """µs per step to step ``n`` hooks through one step's ``train_batch_end``, no trainer (best process time)."""
    expression = sequence(*hooks_of(n, heard))
    stream = [Event("train_batch_end", step=i, metrics={"loss": 0.5}) for i in range(steps)]
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        fold(expression, stream)
        best = min(best, time.process_time() - start)
    return best / steps * 1e6


def fit(callbacks: list, data) -> float:
    """Process seconds the training epoch took, setup and teardown left out."""
    trainer = Trainer(callbacks=callbacks or None, max_epochs=1, enable_checkpointing=False, logger=False,
                      enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    module = Timed()
    trainer.fit(module, data)
    return module.seconds


def hook_overheads(counts: list[int], steps: int, rounds: int) -> dict[tuple[int, bool], float]:
    data = batches(steps)
    variants = [(0, True)] + [(n, heard) for n in counts for heard in (True, False)]
    timings: dict[tuple[int, bool], list[float]] = {v: [] for v in variants}
    for v in variants:  # warm up
        fit(hooks_of(*v), data[:20])
    for r in range(rounds):
        for v in variants[r % len(variants):] + variants[: r % len(variants)]:
            timings[v].append(fit(hooks_of(*v), data) / steps * 1e6)
    base = timings[(0, True)]
    print(f"  no hooks: {statistics.median(base):.1f} us/step")
    return {v: statistics.median(x - y for x, y in zip(timings[v], base)) for v in variants[1:]}


class Fresh:
    """``steps`` batches of one number each, each made when asked for."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        for i in range(self.steps):
            yield torch.full((1, 1), float(i % 7)), torch.zeros(1, 1)


class Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Linear(1, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.w(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.001)


def quiet_stack() -> list:
    """The typical stack's stop rule and counters, without effects that the decision log records."""
    return [early_stopping("loss", patience=1000, check_on_train_epoch_end=True),
            every_n(50, stateful(0, lambda n, e: (n + 1, None), kinds="train_batch_end", name="count"))]


def peak_memory(callbacks: list, steps: int, directory: str) -> tuple[int, int]:
    """Peak Python heap in bytes while fitting one epoch of ``steps`` steps, and the decisions logged."""
    trainer = Trainer(callbacks=callbacks, max_epochs=1, enable_checkpointing=False, logger=False,
                      enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                      default_root_dir=directory)
    model = Tiny()
    gc.collect()
    tracemalloc.start()
    trainer.fit(model, Fresh(steps))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, len(trainer.decisions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller everything")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    quick = args.quick
    events = 100_000 if quick else 1_000_000
    wall, cpu = fold_rate(events, 2 if quick else args.repeats)
    print(f"fold of {events:,} events through a 5-hook expression: {wall:.3f} s wall ({events / wall:,.0f} events/s), "
          f"{cpu:.3f} s process time ({events / cpu:,.0f} events/s)")

    counts = [1, 10, 100] if quick else [1, 10, 100, 1000]
    print("dispatch alone: one step's train_batch_end through N hooks, no trainer (best of 5, process time):")
    print(f"  {'hooks':>6}{'hearing every batch, us/step':>32}{'hearing no batch, us/step':>28}")
    for n in counts:
        print(f"  {n:>6}{dispatch_cost(n, True):>32.2f}{dispatch_cost(n, False):>28.2f}")

    steps, rounds = (100, 2) if quick else (500, 7)
    print(f"per-step overhead against the number of hooks ({steps} steps x {rounds} alternating rounds):")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        overheads = hook_overheads(counts, steps, rounds)
    print(f"  {'hooks':>6}{'hearing every batch, us/step':>32}{'hearing no batch, us/step':>28}")
    for n in counts:
        print(f"  {n:>6}{overheads[(n, True)]:>32.1f}{overheads[(n, False)]:>28.1f}")

    import tempfile

    lengths = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    print("peak Python heap (tracemalloc) against epoch length:")
    print(f"  {'steps':>7}{'typical stack, KiB':>20}{'decisions logged':>18}{'no recorded effects, KiB':>26}")
    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as directory:
        warnings.simplefilter("ignore")
        peak_memory(quiet_stack(), 100, directory)  # warm up: first-run allocations
        for steps in lengths:
            typical, decisions = peak_memory(typical_stack(), steps, directory)
            quiet, _ = peak_memory(quiet_stack(), steps, directory)
            print(f"  {steps:>7}{typical / 1024:>20,.0f}{decisions:>18,}{quiet / 1024:>26,.0f}")


if __name__ == "__main__":
    main()
