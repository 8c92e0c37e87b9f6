"""The trainer emits the same hook calls, in the same order, as a real Lightning 2.5 Trainer."""

from __future__ import annotations

import warnings

import pytest
import torch

import fhooks
from fhooks.core.lambda_hook import HOOK_NAMES
from tests.models import Regressor, loader

L = pytest.importorskip("lightning")
pytestmark = pytest.mark.parity

RECORDED = [name for name in HOOK_NAMES if name not in ("on_save_checkpoint", "on_load_checkpoint")]


def recorder(base: type, calls: list[str], stop_at: tuple[int, int] | None = None) -> object:
    """An instance of a subclass of ``base`` whose every hook appends its name to ``calls``.

    With ``stop_at=(epoch, batch_idx)`` it sets ``trainer.should_stop`` at that batch's end, Lightning's way.
    """

    def method(name: str):
        def record(self, trainer, pl_module, *args, **kwargs):
            calls.append(name)
            if name == "on_train_batch_end" and (trainer.current_epoch, args[-1]) == stop_at:
                trainer.should_stop = True

        return record

    return type("Recorder", (base,), {name: method(name) for name in RECORDED})()


class LightningRegressor(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.inner = Regressor()

    def training_step(self, batch, batch_idx):
        return self.inner.training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx):
        return self.inner.validation_step(batch, batch_idx)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


CONFIGS = [
    dict(max_epochs=2, limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=1),
    dict(max_epochs=1, limit_train_batches=5, limit_val_batches=2, num_sanity_val_steps=0, accumulate_grad_batches=2),
    dict(max_epochs=2, limit_train_batches=4, limit_val_batches=1, num_sanity_val_steps=2, val_check_interval=0.5),
    dict(max_epochs=3, limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=0, check_val_every_n_epoch=2),
    dict(max_steps=3, limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=0),
    dict(max_epochs=3, limit_train_batches=4, limit_val_batches=1, num_sanity_val_steps=0, stop_at=(1, 1)),
    dict(max_epochs=3, limit_train_batches=4, limit_val_batches=1, num_sanity_val_steps=0, stop_at=(0, 1),
         min_epochs=2),
]


def lightning_calls(config: dict) -> list[str]:
    calls: list[str] = []
    config = dict(config)
    stop_at = config.pop("stop_at", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = L.Trainer(callbacks=[recorder(L.Callback, calls, stop_at)], enable_checkpointing=False, logger=False,
                            enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", **config)
        trainer.fit(LightningRegressor(), loader(), loader())
    return calls


def fhooks_calls(config: dict) -> list[str]:
    calls: list[str] = []
    config = dict(config)
    stop_at = config.pop("stop_at", None)
    trainer = fhooks.Trainer(callbacks=[recorder(fhooks.Callback, calls, stop_at)], enable_checkpointing=False,
                             enable_progress_bar=False, accelerator="cpu", **config)
    trainer.fit(Regressor(), loader(), loader())
    return calls


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_same_hooks_in_the_same_order(config: dict) -> None:
    expected = lightning_calls(config)
    assert len(expected) > 10
    assert fhooks_calls(config) == expected
