"""Timer decides as Lightning 2.5.6's, on a scripted clock, in both real trainers.

``time.monotonic`` is replaced by a fake clock that only the module's steps move (a training
step by ``TICK`` seconds, a validation step by half of it), so both trainers and both timers read the same times. Compared: where
training stopped (epoch, global step) and the timer's train/validate elapsed times.
"""

from __future__ import annotations

import datetime
import time
import warnings

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import fhooks
from fhooks.callbacks import Timer

L = pytest.importorskip("lightning")
pytestmark = pytest.mark.parity

TICK = 0.25
TRAINER = dict(max_epochs=5, limit_train_batches=3, limit_val_batches=1, num_sanity_val_steps=0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(time, "monotonic", fake)
    return fake


def data() -> DataLoader:
    return DataLoader(TensorDataset(torch.ones(8, 1)), batch_size=2)


class Ticking(torch.nn.Module):
    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.layer, self.clock = torch.nn.Linear(1, 1), clock

    def training_step(self, batch, batch_idx):
        self.clock.now += TICK
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        self.clock.now += TICK / 2
        return {"val_loss": self.layer(batch[0]).pow(2).mean()}

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def lightning_module(clock: Clock):
    class LightningTicking(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.inner = Ticking(clock)

        def training_step(self, batch, batch_idx):
            return self.inner.training_step(batch, batch_idx)

        def validation_step(self, batch, batch_idx):
            self.log("val_loss", self.inner.validation_step(batch, batch_idx)["val_loss"])

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    return LightningTicking()


def outcome(trainer, timer):
    return dict(current_epoch=trainer.current_epoch, global_step=trainer.global_step,
                should_stop=bool(trainer.should_stop), train=timer.time_elapsed("train"),
                validate=timer.time_elapsed("validate"), test=timer.time_elapsed("test"))


def run_lightning(clock, timer_kwargs, trainer_kwargs, tmp_path):
    timer = L.pytorch.callbacks.Timer(**timer_kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = L.Trainer(callbacks=[timer], enable_checkpointing=False, logger=False, enable_progress_bar=False,
                            enable_model_summary=False, accelerator="cpu", default_root_dir=tmp_path,
                            **trainer_kwargs)
        trainer.fit(lightning_module(clock), data(), data())
    return outcome(trainer, timer)


def run_fhooks(clock, timer_kwargs, trainer_kwargs, tmp_path):
    timer = Timer(**timer_kwargs)
    trainer = fhooks.Trainer(callbacks=[timer], enable_checkpointing=False, logger=False, enable_progress_bar=False,
                             enable_model_summary=False, accelerator="cpu", default_root_dir=tmp_path,
                             **trainer_kwargs)
    trainer.fit(Ticking(clock), data(), data())
    return outcome(trainer, timer)


CASES = [
    ("step-1s", dict(duration=datetime.timedelta(seconds=1)), {}),
    ("step-exact-epoch", dict(duration={"seconds": 1.5}), {}),
    ("epoch-1s", dict(duration="00:00:00:01", interval="epoch"), {}),
    ("epoch-2s", dict(duration={"seconds": 2}, interval="epoch"), {}),
    ("zero", dict(duration="00:00:00:00"), {}),
    ("never", dict(duration="00:01:00:00"), {}),
    ("no-duration", dict(), {}),
    ("min-epochs-holds", dict(duration={"seconds": 0.5}), dict(min_epochs=2)),
    ("validation-half-epoch", dict(duration={"seconds": 1.25}), dict(val_check_interval=0.5, limit_train_batches=4)),
]


@pytest.mark.parametrize("timer_kwargs, trainer_kwargs", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_same_stop_and_times_as_lightning(clock, timer_kwargs, trainer_kwargs, tmp_path):
    trainer_kwargs = {**TRAINER, **trainer_kwargs}
    expected = run_lightning(clock, timer_kwargs, trainer_kwargs, tmp_path / "l")
    got = run_fhooks(clock, timer_kwargs, trainer_kwargs, tmp_path / "f")
    assert got == expected


def test_resume_with_spent_budget_stops_before_training(clock, tmp_path):
    """Lightning's state_dict loads into fhooks' Timer: a spent budget stops at fit_start in both."""
    lightning_timer = L.pytorch.callbacks.Timer(duration={"seconds": 1})
    lightning_timer.load_state_dict({"time_elapsed": {"train": 2.0}})
    timer = Timer(duration={"seconds": 1})
    timer.load_state_dict({"time_elapsed": {"train": 2.0}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lt = L.Trainer(callbacks=[lightning_timer], enable_checkpointing=False, logger=False, accelerator="cpu",
                       enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path, **TRAINER)
        lt.fit(lightning_module(clock), data(), data())
    ft = fhooks.Trainer(callbacks=[timer], enable_checkpointing=False, logger=False, accelerator="cpu",
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path, **TRAINER)
    ft.fit(Ticking(clock), data(), data())
    assert (ft.global_step, ft.current_epoch) == (lt.global_step, lt.current_epoch) == (0, 0)
    assert timer.time_elapsed() == lightning_timer.time_elapsed() == 2.0
