"""EarlyStopping decides as Lightning 2.5.6's: scripted ``val_loss`` streams through both real trainers.

Each validation run logs the next value of a script. Lightning's ``EarlyStopping`` runs in a
``lightning.Trainer``; fhooks' class runs in ``fhooks.Trainer`` and the pure hook in ``fold``
over the equivalent events. Stop epoch, global step, best score, wait count and stopped epoch
must agree. Script values are exact in float32, since Lightning compares float32 tensors.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import fhooks
from fhooks.callbacks import EarlyStopping
from fhooks.core import Event, fold
from fhooks.core.events import RunInfo
from fhooks.errors import MissingMetric
from fhooks.hooks import early_stopping

L = pytest.importorskip("lightning")
pytestmark = pytest.mark.parity

NAN, INF = math.nan, math.inf
TRAINER = dict(max_epochs=8, limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=0)


def data() -> DataLoader:
    return DataLoader(TensorDataset(torch.ones(8, 1)), batch_size=2)


class Scripted(torch.nn.Module):
    """Logs ``script[k]`` as ``name`` in the k-th validation run (the last value once the script runs out)."""

    def __init__(self, script, name="val_loss"):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.script, self.name, self.runs = list(script), name, 0

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        value = self.script[min(self.runs, len(self.script) - 1)]
        self.runs += 1
        self.log(self.name, torch.tensor(value))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


class LightningScripted(L.LightningModule):
    def __init__(self, script, name="val_loss"):
        super().__init__()
        self.inner = Scripted(script, name)

    def training_step(self, batch, batch_idx):
        return self.inner.training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx):
        value = self.inner.script[min(self.inner.runs, len(self.inner.script) - 1)]
        self.inner.runs += 1
        self.log(self.inner.name, torch.tensor(value))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def run_lightning(script, es_kwargs, trainer_kwargs, tmp_path):
    es = L.pytorch.callbacks.EarlyStopping(**es_kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = L.Trainer(callbacks=[es], enable_checkpointing=False, logger=False, enable_progress_bar=False,
                            enable_model_summary=False, accelerator="cpu", default_root_dir=tmp_path,
                            **trainer_kwargs)
        trainer.fit(LightningScripted(script), data(), data())
    return trainer, es


def run_fhooks(script, es_kwargs, trainer_kwargs, tmp_path):
    es = EarlyStopping(**es_kwargs)
    trainer = fhooks.Trainer(callbacks=[es], enable_checkpointing=False, logger=False, enable_progress_bar=False,
                             enable_model_summary=False, accelerator="cpu", default_root_dir=tmp_path,
                             **trainer_kwargs)
    trainer.fit(Scripted(script), data(), data())
    return trainer, es


def outcome(trainer, es):
    return dict(current_epoch=trainer.current_epoch, global_step=trainer.global_step,
                should_stop=bool(trainer.should_stop), best_score=float(es.best_score), wait_count=es.wait_count,
                stopped_epoch=es.stopped_epoch)


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k] == b[k] or (isinstance(a[k], float) and math.isnan(a[k]) and math.isnan(b[k])) for k in a)


CASES = [
    # id, script, EarlyStopping kwargs, trainer kwargs
    ("improving-no-stop", [5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 0.25, 0.125], {}, {}),
    ("ties", [1.0, 1.0, 1.0, 1.0, 1.0, 1.0], {}, {}),
    ("improve-then-flat", [5.0, 4.0, 3.0, 3.0, 3.0, 3.0, 3.0], dict(patience=2), {}),
    ("patience-0", [2.0, 1.0, 1.0, 0.0], dict(patience=0), {}),
    ("patience-1", [2.0, 3.0, 1.0], dict(patience=1), {}),
    ("patience-3-late-improvement", [4.0, 4.0, 4.0, 3.0, 4.0, 4.0, 4.0, 4.0], dict(patience=3), {}),
    ("nan", [3.0, 2.0, NAN, 1.0], {}, {}),
    ("inf", [3.0, INF, 1.0], {}, {}),
    ("minus-inf-first", [-INF, 1.0], {}, {}),
    ("nan-unchecked", [3.0, NAN, NAN, 2.0, 2.0], dict(check_finite=False, patience=2), {}),
    ("inf-unchecked", [INF, INF, 1.0, INF], dict(check_finite=False, patience=2), {}),
    ("minus-inf-unchecked", [1.0, -INF, -INF, -INF], dict(check_finite=False, patience=2), {}),
    ("stopping-threshold-equal-then-below", [5.0, 3.5, 3.0, 2.0], dict(stopping_threshold=3.5), {}),
    ("divergence-threshold", [5.0, 6.0, 7.0, 1.0], dict(divergence_threshold=6.0), {}),
    ("both-thresholds", [5.0, 4.0, 9.0], dict(stopping_threshold=1.0, divergence_threshold=8.0), {}),
    ("min-delta-exact-is-not-improvement", [10.0, 9.5, 9.25, 8.75, 8.5, 8.5], dict(min_delta=0.5, patience=2), {}),
    ("min-delta-quarter", [1.0, 0.75, 0.5, 0.5, 0.25], dict(min_delta=0.25, patience=1), {}),
    ("max", [0.5, 0.75, 0.75, 0.5, 1.0, 1.0, 1.0], dict(mode="max", patience=2), {}),
    ("max-thresholds", [0.5, 0.25, 0.75, 1.0], dict(mode="max", stopping_threshold=0.75), {}),
    ("max-divergence", [0.5, 0.75, 0.25], dict(mode="max", divergence_threshold=0.5), {}),
    ("max-min-delta", [1.0, 1.5, 2.0, 2.25, 2.5], dict(mode="max", min_delta=0.5, patience=1), {}),
    ("negative-min-delta-tolerates-worse", [1.0, 1.25, 1.75, 1.5, 2.5], dict(min_delta=-0.5, patience=1), {}),
    ("max-negative-min-delta", [2.0, 1.75, 1.0, 1.5, 0.5], dict(mode="max", min_delta=-0.5, patience=1), {}),
    ("max-nan", [1.0, NAN], dict(mode="max"), {}),
    ("check-every-2-epochs", [5.0, 5.0, 5.0, 5.0], dict(patience=1), dict(check_val_every_n_epoch=2)),
    ("val-check-interval-half", [5.0, 4.0, 4.0, 4.0, 4.0, 4.0], dict(patience=2),
     dict(val_check_interval=0.5, limit_train_batches=4)),
    ("forced-on-validation-end", [3.0, 3.0, 3.0, 3.0], dict(patience=2, check_on_train_epoch_end=False), {}),
    ("min-epochs-holds-stop", [1.0, 1.0, 1.0, 1.0, 1.0, 1.0], dict(patience=1), dict(min_epochs=4)),
    ("not-strict-missing", [1.0, 1.0, 1.0, 1.0], dict(monitor="val_acc", strict=False, patience=0),
     dict(max_epochs=3)),
]


@pytest.mark.parametrize("script, es_kwargs, trainer_kwargs", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_same_decisions_as_lightning(script, es_kwargs, trainer_kwargs, tmp_path):
    es_kwargs = {"monitor": "val_loss", **es_kwargs}
    trainer_kwargs = {**TRAINER, **trainer_kwargs}
    expected = outcome(*run_lightning(script, es_kwargs, trainer_kwargs, tmp_path / "l"))
    got = outcome(*run_fhooks(script, es_kwargs, trainer_kwargs, tmp_path / "f"))
    assert same(got, expected), f"fhooks {got}\nlightning {expected}"


@pytest.mark.parametrize("script, es_kwargs, trainer_kwargs",
                         [c[1:] for c in CASES if not c[3] and "monitor" not in c[2]],
                         ids=[c[0] for c in CASES if not c[3] and "monitor" not in c[2]])
def test_pure_fold_agrees(script, es_kwargs, trainer_kwargs, tmp_path):
    """The pure hook folded over one train_epoch_end per epoch reaches Lightning's decisions too."""
    lightning_trainer, es = run_lightning(script, {"monitor": "val_loss", **es_kwargs}, TRAINER, tmp_path)
    events = [Event("fit_start", data=RunInfo(val_check_interval=1.0))]
    for epoch in range(lightning_trainer.current_epoch):
        value = script[min(epoch, len(script) - 1)]
        events.append(Event("validation_end", epoch=epoch, metrics={"val_loss": value}))
        events.append(Event("train_epoch_end", epoch=epoch, metrics={"val_loss": value}))
    state, effects = fold(early_stopping("val_loss", **es_kwargs), events)
    stopped = bool(effects)
    assert stopped == lightning_trainer.should_stop
    assert same(dict(best=state.best_score, wait=state.wait_count, epoch=state.stopped_epoch),
                dict(best=float(es.best_score), wait=es.wait_count, epoch=es.stopped_epoch))


def test_fast_dev_run_disables_both(tmp_path):
    kwargs = dict(TRAINER, fast_dev_run=True)
    kwargs.pop("max_epochs")
    expected = outcome(*run_lightning([NAN], {"monitor": "val_loss", "patience": 0}, kwargs, tmp_path / "l"))
    got = outcome(*run_fhooks([NAN], {"monitor": "val_loss", "patience": 0}, kwargs, tmp_path / "f"))
    fields = ("should_stop", "best_score", "wait_count", "stopped_epoch", "current_epoch")
    assert not expected["should_stop"] and same({k: got[k] for k in fields}, {k: expected[k] for k in fields})


def test_missing_metric_raises_in_both(tmp_path):
    es_kwargs = {"monitor": "val_los"}
    with pytest.raises(RuntimeError, match="Early stopping conditioned on metric `val_los` which is not available"):
        run_lightning([1.0], es_kwargs, TRAINER, tmp_path / "l")
    with pytest.raises(MissingMetric, match=r"metric 'val_los' is not in the metrics \(have: .*val_loss.*\); "
                                            r"did you mean 'val_loss'\?"):
        run_fhooks([1.0], es_kwargs, TRAINER, tmp_path / "f")


def test_state_dict_keys_load_from_lightning(tmp_path):
    _, lightning_es = run_lightning([3.0, 2.0, 2.5], {"monitor": "val_loss", "patience": 5}, dict(TRAINER, max_epochs=3),
                                    tmp_path)
    es = EarlyStopping("val_loss")
    es.load_state_dict(lightning_es.state_dict())
    assert (es.best_score, es.wait_count, es.stopped_epoch, es.patience) == (2.0, 1, 0, 5)
    assert es.state_key == lightning_es.state_key
    assert set(lightning_es.state_dict()) <= set(es.state_dict())
