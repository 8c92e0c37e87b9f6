"""GradientAccumulationScheduler against Lightning 2.5.6: the factor of every epoch, global steps, errors."""

from __future__ import annotations

import warnings

import pytest

import fhooks
from fhooks.callbacks import GradientAccumulationScheduler, LambdaCallback
from fhooks.hooks import gradient_accumulation_scheduler
from tests.models import Regressor, loader

L = pytest.importorskip("lightning")
from lightning.fabric.utilities.exceptions import MisconfigurationException  # noqa: E402
from lightning.pytorch.callbacks import GradientAccumulationScheduler as LightningScheduler  # noqa: E402

pytestmark = pytest.mark.parity

QUIET = dict(enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
             num_sanity_val_steps=0, accelerator="cpu")


class LightningRegressor(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.inner = Regressor()

    def training_step(self, batch, batch_idx):
        return self.inner.training_step(batch, batch_idx)

    def configure_optimizers(self):
        return self.inner.configure_optimizers()


class Record(L.Callback):
    def __init__(self, seen: list) -> None:
        self.seen = seen

    def on_train_epoch_end(self, trainer, pl_module):
        self.seen.append((trainer.current_epoch, trainer.accumulate_grad_batches, trainer.global_step))


def lightning_run(schedule: dict, epochs: int, batches: int) -> list:
    seen: list = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = L.Trainer(callbacks=[LightningScheduler(dict(schedule)), Record(seen)], max_epochs=epochs,
                            limit_train_batches=batches, logger=False, **QUIET)
        trainer.fit(LightningRegressor(), loader(n=96, batch_size=8))
    return seen


def fhooks_run(schedule: dict, epochs: int, batches: int) -> list:
    seen: list = []
    record = LambdaCallback(on_train_epoch_end=lambda t, m: seen.append(
        (t.current_epoch, t.accumulate_grad_batches, t.global_step)))
    trainer = fhooks.Trainer(callbacks=[GradientAccumulationScheduler(schedule), record], max_epochs=epochs,
                             limit_train_batches=batches, **QUIET)
    trainer.fit(Regressor(), loader(n=96, batch_size=8))
    return seen


@pytest.mark.parametrize(("schedule", "epochs", "batches"), [
    ({1: 2, 3: 4}, 5, 5),
    ({0: 2, 2: 1}, 4, 5),
    ({0: 1, 2: 4, 5: 8}, 7, 6),
    ({2: 3}, 4, 7),
])
def test_factor_and_global_step_of_every_epoch(schedule, epochs, batches):
    expected = lightning_run(schedule, epochs, batches)
    assert [factor for _, factor, _ in expected] == [
        gradient_accumulation_scheduler(schedule).get_accumulate_grad_batches(e) for e in range(epochs)]
    assert fhooks_run(schedule, epochs, batches) == expected


def test_known_steps():
    assert [step for *_, step in fhooks_run({1: 2, 3: 4}, 5, 5)] == [5, 8, 11, 13, 15]


def test_trainer_accumulation_conflicts_in_both():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = L.Trainer(callbacks=[LightningScheduler({1: 2})], max_epochs=1, limit_train_batches=2, logger=False,
                            accumulate_grad_batches=2, **QUIET)
        with pytest.raises(ValueError):
            trainer.fit(LightningRegressor(), loader())
    trainer = fhooks.Trainer(callbacks=[GradientAccumulationScheduler({1: 2})], max_epochs=1, limit_train_batches=2,
                             accumulate_grad_batches=2, **QUIET)
    with pytest.raises(ValueError, match="either remove accumulate_grad_batches from the Trainer"):
        trainer.fit(Regressor(), loader())


@pytest.mark.parametrize(("schedule", "lightning_error", "error"), [
    ({}, TypeError, TypeError),
    ({-1: 2}, MisconfigurationException, ValueError),
    ({1: 2.0}, MisconfigurationException, ValueError),
    ({1: 0}, MisconfigurationException, ValueError),
    ({"1": 2}, MisconfigurationException, ValueError),
])
def test_same_schedules_rejected(schedule, lightning_error, error):
    with pytest.raises(lightning_error):
        LightningScheduler(dict(schedule))
    with pytest.raises(error):
        GradientAccumulationScheduler(schedule)


def test_lightning_mutates_the_dict_we_do_not():
    theirs, ours = {2: 4}, {2: 4}
    LightningScheduler(theirs)
    GradientAccumulationScheduler(ours)
    assert theirs == {2: 4, 0: 1} and ours == {2: 4}


