"""Memory of the decision log over a long run with one recorded effect per step.

Trains a one-parameter model for ``--steps`` optimizer steps (default 200,000) in
``fhooks.Trainer`` with a hook that returns a ``Log`` (a recorded effect) at every
``train_batch_end``. Each batch is a fresh 16 KiB tensor; a weak reference to every
batch tells how many are still alive at the end. Python memory is traced with
``tracemalloc`` at checkpoints through the run, so the report gives the bytes the
log costs per decision, and that no batch outlives its step.

    PYTHONPATH=. python benchmarks/decisions_memory.py              # 200,000 steps, a few minutes
    PYTHONPATH=. python benchmarks/decisions_memory.py --steps 20000
"""

from __future__ import annotations

import argparse
import gc
import resource
import tracemalloc
import weakref

import torch

import fhooks
from fhooks import Log, lambda_hook

torch.set_num_threads(1)
ELEMENTS = 4096  # 16 KiB of float32 per batch


class Fresh:
    """``steps`` batches, each a new tensor, watched by a weak reference."""

    def __init__(self, steps: int) -> None:
        self.steps, self.alive = steps, 0
        self.refs: list[weakref.ref] = []

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        for i in range(self.steps):
            batch = torch.full((ELEMENTS,), float(i % 7))
            self.refs.append(weakref.ref(batch))
            yield batch


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def training_step(self, batch, batch_idx):
        return ((self.w * batch).mean() - 1) ** 2

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    steps = parser.parse_args().steps
    marks: list[tuple[int, int]] = []

    def mark(event):
        if event.step % (steps // 4) == 0:
            gc.collect()
            marks.append((event.step, tracemalloc.get_traced_memory()[0]))
        return Log({"loss": event.metrics["loss"]})

    data = Fresh(steps)
    trainer = fhooks.Trainer(callbacks=[lambda_hook(on_train_batch_end=mark)], max_epochs=1, logger=False,
                             enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                             accelerator="cpu")
    tracemalloc.start()
    trainer.fit(Net(), data)
    gc.collect()
    if marks[-1][0] != steps:
        marks.append((steps, tracemalloc.get_traced_memory()[0]))
    tracemalloc.stop()
    alive = sum(ref() is not None for ref in data.refs)
    print(f"steps: {steps:,}  decisions: {len(trainer.decisions):,}  batches alive at the end: {alive}")
    for (s0, m0), (s1, m1) in zip(marks, marks[1:]):
        print(f"steps {s0:>7,} -> {s1:>7,}: Python heap +{(m1 - m0) / 2**20:6.1f} MiB, "
              f"{(m1 - m0) / max(s1 - s0, 1):6.0f} bytes per step")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
          f"(batch data seen: {steps * ELEMENTS * 4 / 2**30:.1f} GiB)")


if __name__ == "__main__":
    main()
