"""The decision log keeps moments, not data: no batch, output or loss outlives its step (issue 9, item 9)."""

from __future__ import annotations

import gc
import weakref

import torch

import fhooks
from fhooks import Log, lambda_hook
from fhooks.core import Event, Stop
from fhooks.interpret import Decision
from fhooks.trainer.outputs import LazyMetrics

STEPS = 40
BIG = 64 * 1024  # floats per batch: 256 KiB


class Batches(torch.utils.data.Dataset):
    def __len__(self):
        return STEPS

    def __getitem__(self, i):
        return torch.full((BIG,), float(i))


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.batches = []

    def training_step(self, batch, batch_idx):
        self.batches.append(weakref.ref(batch))
        return (self.w * batch).mean() ** 2

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def per_step_log():
    return lambda_hook(on_train_batch_end=lambda e: Log({"loss": e.metrics["loss"]}))


def fit(module, hook):
    trainer = fhooks.Trainer(callbacks=[hook], max_epochs=1, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.fit(module, torch.utils.data.DataLoader(Batches(), batch_size=None))
    return trainer


class TestDecision:
    def test_keeps_the_moment_and_not_the_data(self):
        batch = torch.ones(3)
        event = Event("train_batch_end", epoch=1, step=5, batch_idx=2, time=0.5, metrics={"loss": torch.tensor(0.25)},
                      data=batch)
        decision = Decision.of(event, Stop("x"))
        assert (decision.kind, decision.stage, decision.epoch, decision.step, decision.batch_idx, decision.time) == (
            "train_batch_end", "fit", 1, 5, 2, 0.5)
        assert dict(decision.metrics) == {"loss": 0.25} and type(decision.metrics["loss"]) is float
        assert decision.event.data is None and not hasattr(decision, "data")

    def test_keeps_of_a_batch_end_only_the_metrics_read(self):
        """Reading the others would wait for the device at a step where no one asked for them."""
        metrics = LazyMetrics({"loss": torch.tensor(0.25), "acc": torch.tensor(0.5)}, {"lr": 0.1})
        assert metrics["loss"] == 0.25  # a hook read it
        decision = Decision.of(Event("train_batch_end", metrics=metrics), Stop("x"))
        assert dict(decision.metrics) == {"loss": 0.25, "lr": 0.1}


class TestTrainerDecisions:
    def test_no_batch_outlives_its_step(self):
        module = Net()
        trainer = fit(module, per_step_log())
        gc.collect()
        assert len(trainer.decisions) == STEPS
        assert len(module.batches) == STEPS
        alive = [i for i, ref in enumerate(module.batches) if ref() is not None]
        assert alive == []
