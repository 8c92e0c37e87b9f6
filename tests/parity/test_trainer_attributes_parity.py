"""Every public attribute of Lightning 2.5.6's Trainer (introspected from an instance, not a hand list), read by the
same Lightning callback at fit_start, train_epoch_end and fit_end under both trainers: same types and values,
apart from the documented differences below."""

from __future__ import annotations

import inspect
import os

import pytest
import torch

import fhooks
from tests.parity.test_entry_points_parity import Regressor, loader

pl = pytest.importorskip("lightning.pytorch")

pytestmark = [pytest.mark.parity,
              pytest.mark.filterwarnings("ignore::FutureWarning", "ignore:.*does not have many workers",
                                         "ignore:The number of training batches", "ignore:GPU available")]

#: Added by the distributed strategy work (session/branch ``ddp``), not by this one.
DISTRIBUTED = {"accelerator", "device_ids", "local_rank", "node_rank", "num_devices", "num_nodes", "strategy",
               "distributed_sampler_kwargs", "world_size", "global_rank", "is_global_zero"}
#: Lightning's internal objects fhooks has no counterpart of: its loop objects and precision plugin.
NOT_PROVIDED = {"precision_plugin", "validate_loop", "test_loop", "predict_loop"}
#: Present with another type: ``fit_loop`` is a read-only view of the progress counters, ``profiler`` the value
#: given (None/"simple"), ``callbacks`` holds a Lightning callback through fhooks' adapter.
OTHER_TYPE = {"fit_loop", "profiler", "callbacks"}
#: At fit_start fhooks has already loaded the validation data (Lightning loads it when validation first runs).
LOADED_EARLIER = {"num_val_batches", "num_sanity_val_batches", "val_dataloaders"}


def describe(value, cwd):
    """A comparable description: type name and value for plain data, element descriptions for lists."""
    if isinstance(value, torch.Tensor):
        return ("Tensor", value.tolist())
    if isinstance(value, str):
        return ("str", value.replace(cwd, "<cwd>"))
    if isinstance(value, (int, float, bool, type(None))):
        return (type(value).__name__, value)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [describe(v, cwd) for v in value])
    if isinstance(value, dict):
        return ("dict", {k: describe(v, cwd) for k, v in value.items()})
    if type(value).__name__ == "TrainerState":
        return ("TrainerState", [None if v is None else str(getattr(v, "value", v))
                                 for v in (value.fn, value.stage, value.status)])
    return (type(value).__name__, None)


class Probe(pl.Callback):
    def __init__(self, names):
        self.names, self.seen = names, {}

    def read(self, trainer, moment):
        cwd = os.getcwd()
        self.seen[moment] = {n: describe(getattr(trainer, n, "MISSING"), cwd) for n in self.names}

    def on_fit_start(self, trainer, pl_module):
        self.read(trainer, "fit_start")

    def on_train_epoch_end(self, trainer, pl_module):
        self.read(trainer, "train_epoch_end")

    def on_fit_end(self, trainer, pl_module):
        self.read(trainer, "fit_end")


def public_attributes():
    trainer = pl.Trainer(logger=False)
    return sorted(n for n in dir(trainer) if not n.startswith("_")
                  and not inspect.isroutine(getattr(type(trainer), n, None) or getattr(trainer, n)))


def test_every_public_attribute_as_lightnings(tmp_path, monkeypatch):
    names = [n for n in public_attributes() if n not in DISTRIBUTED | NOT_PROVIDED]
    seen = {}
    for lib, trainer_cls, checkpoint_cls in (("lightning", pl.Trainer, pl.callbacks.ModelCheckpoint),
                                             ("fhooks", fhooks.Trainer, fhooks.callbacks.ModelCheckpoint)):
        (tmp_path / lib).mkdir()
        monkeypatch.chdir(tmp_path / lib)
        probe = Probe(names)
        stop = (pl.callbacks if lib == "lightning" else fhooks.callbacks).EarlyStopping(monitor="val_loss")
        trainer = trainer_cls(max_epochs=2, callbacks=[probe, checkpoint_cls(monitor="val_loss"), stop],
                              logger=False, enable_progress_bar=False, enable_model_summary=False)
        trainer.fit(Regressor(), loader(), loader(2))
        seen[lib] = probe.seen
    assert len(names) > 60
    for moment in ("fit_start", "train_epoch_end", "fit_end"):
        lightning, mine = seen["lightning"][moment], seen["fhooks"][moment]
        allowed = OTHER_TYPE | (LOADED_EARLIER if moment == "fit_start" else set())
        differ = {n: (lightning[n], mine[n]) for n in names if n not in allowed and lightning[n] != mine[n]}
        assert not differ, moment
        assert all(mine[n][0] != "str" or mine[n][1] != "MISSING" for n in allowed)  # present, with another type


class OneCycle(Regressor):
    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
        steps = self.trainer.estimated_stepping_batches
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


@pytest.mark.parametrize("args", [{"max_epochs": 3}, {"max_epochs": 3, "accumulate_grad_batches": 2},
                                  {"max_steps": 5}, {"max_epochs": 2, "limit_train_batches": 2}])
def test_estimated_stepping_batches_in_configure_optimizers(tmp_path, monkeypatch, args):
    seen = {}
    for lib, trainer_cls in (("lightning", pl.Trainer), ("fhooks", fhooks.Trainer)):
        (tmp_path / lib).mkdir()
        monkeypatch.chdir(tmp_path / lib)
        trainer = trainer_cls(logger=False, enable_progress_bar=False, enable_model_summary=False,
                              enable_checkpointing=False, **args)
        model = OneCycle()
        trainer.fit(model, loader(), loader(2))
        seen[lib] = (trainer.estimated_stepping_batches, trainer.lr_scheduler_configs[0].scheduler.total_steps,
                     trainer.global_step)
    assert seen["fhooks"] == seen["lightning"]
