"""LearningRateMonitor against Lightning 2.5.6: names over generated optimizers; logged keys and values in a real fit."""

from __future__ import annotations

import types
import warnings

import attrs
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import fhooks
import fhooks.interpret.model.optim_values  # noqa: F401 - registers the LogOptimizerValues handler
from fhooks.callbacks import LearningRateMonitor
from fhooks.core import Event, Raise, fold
from fhooks.core.events import OptimizerInfo, RunInfo
from fhooks.hooks import SchedulerInfo, learning_rate_monitor
from tests.models import Regressor, loader

L = pytest.importorskip("lightning")
from lightning.fabric.utilities.exceptions import MisconfigurationException  # noqa: E402
from lightning.pytorch.callbacks import LearningRateMonitor as LightningMonitor  # noqa: E402
from lightning.pytorch.core.optimizer import LRSchedulerConfig  # noqa: E402
from lightning.pytorch.loggers import Logger  # noqa: E402

pytestmark = pytest.mark.parity

OPTIMIZERS = {"SGD": dict(lr=0.1, momentum=0.9), "Adam": dict(lr=1e-3), "AdamW": dict(lr=1e-3, weight_decay=0.05)}
RUN_FIELDS = attrs.fields_dict(RunInfo)


@attrs.frozen
class Run(RunInfo):
    """RunInfo with the scheduler list, for the naming test (the trainer may not send it yet)."""

    schedulers: tuple = ()


def info_of(optimizers, schedulers=()) -> Run:
    infos = tuple(OptimizerInfo(type(o).__name__, tuple({k: v for k, v in g.items() if k != "params"}
                                                        for g in o.param_groups)) for o in optimizers)
    return Run(optimizers=infos, schedulers=tuple(schedulers))


@st.composite
def setups(draw):
    optimizers, configs, schedulers = [], [], []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(sorted(OPTIMIZERS)))
        n = draw(st.integers(1, 3))
        names = draw(st.lists(st.sampled_from(["enc", "dec", "head"]), min_size=n, max_size=n, unique=True))
        groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], **({"name": name} if draw(st.booleans()) else {})}
                  for name in names]
        optimizers.append(getattr(torch.optim, kind)(groups, **OPTIMIZERS[kind]))
    labels = iter(["sched_a", "sched_b", "sched_c", "sched_d"])
    for i in draw(st.lists(st.integers(0, len(optimizers) - 1), max_size=len(optimizers) + 1)):
        name = next(labels) if draw(st.booleans()) else None
        interval = draw(st.sampled_from(["step", "epoch"]))
        configs.append(LRSchedulerConfig(torch.optim.lr_scheduler.StepLR(optimizers[i], 1), name, interval))
        schedulers.append(SchedulerInfo(i, interval, name))
    return optimizers, configs, schedulers


def lightning_names(optimizers, configs, **kwargs):
    trainer = types.SimpleNamespace(loggers=[object()], lr_scheduler_configs=configs, optimizers=optimizers)
    monitor = LightningMonitor(**kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor.on_train_start(trainer)
    return list(monitor.lrs), any(issubclass(w.category, RuntimeWarning) for w in caught)


class TestNames:
    @settings(max_examples=100, deadline=None)
    @given(setups(), st.booleans())
    def test_same_names_and_momentum_warning(self, setup, momentum):
        optimizers, configs, schedulers = setup
        expected, warned = lightning_names(optimizers, configs, log_momentum=momentum)
        state, effects = fold(learning_rate_monitor(log_momentum=momentum),
                              [Event("fit_start", data=info_of(optimizers, schedulers))])
        assert list(state.names) == expected
        assert any("momentum" in getattr(e, "label", "") for e in effects) == warned

    def test_duplicate_group_names_rejected_by_both(self):
        p = [torch.nn.Parameter(torch.zeros(1)) for _ in range(2)]
        opt = torch.optim.SGD([{"params": [p[0]], "name": "x"}, {"params": [p[1]], "name": "x"}], lr=0.1)
        with pytest.raises(MisconfigurationException):
            lightning_names([opt], [])
        _, effects = fold(learning_rate_monitor(), [Event("fit_start", data=info_of([opt]))])
        assert isinstance(effects[-1], Raise)


class Recorder(Logger):
    """A logger that keeps every ``log_metrics`` call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, dict]] = []

    name = "recorder"
    version = 0

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        pass

    def log_metrics(self, metrics, step=None) -> None:
        lrs = {k: round(float(v), 8) for k, v in metrics.items() if k.startswith("lr-")}
        if lrs:
            self.calls.append((step, lrs))


def configure(kind: str, scheduler: str | None):
    def configure_optimizers(module):
        params = list(module.parameters())
        if kind == "sgd":
            opt = torch.optim.SGD(params, lr=0.1, momentum=0.9)
        else:
            opt = torch.optim.Adam([{"params": params[:2]}, {"params": params[2:], "lr": 0.01}], lr=1e-3,
                                   betas=(0.8, 0.99), weight_decay=0.001)
        if scheduler is None:
            return opt
        return {"optimizer": opt, "lr_scheduler": {"scheduler": torch.optim.lr_scheduler.StepLR(opt, 1, 0.5),
                                                   "interval": scheduler}}
    return configure_optimizers


class LightningRegressor(L.LightningModule):
    def __init__(self, kind, scheduler) -> None:
        super().__init__()
        self.inner = Regressor()
        self._configure = configure(kind, scheduler)

    def training_step(self, batch, batch_idx):
        return self.inner.training_step(batch, batch_idx)

    def configure_optimizers(self):
        return self._configure(self)


class FhooksRegressor(Regressor):
    def __init__(self, kind, scheduler) -> None:
        super().__init__()
        self._configure = configure(kind, scheduler)

    def configure_optimizers(self):
        return self._configure(self)


QUIET = dict(enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
             num_sanity_val_steps=0, accelerator="cpu")


def runs(kwargs, kind, scheduler, epochs, batches, every):
    theirs, ours = Recorder(), Recorder()
    data = dict(max_epochs=epochs, limit_train_batches=batches, log_every_n_steps=every)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = L.Trainer(callbacks=[LightningMonitor(**kwargs)], logger=theirs, **data, **QUIET)
        trainer.fit(LightningRegressor(kind, scheduler), loader(n=batches * 4, batch_size=4))
    trainer = fhooks.Trainer(callbacks=[LearningRateMonitor(**kwargs)], logger=ours, **data, **QUIET)
    trainer.fit(FhooksRegressor(kind, scheduler), loader(n=batches * 4, batch_size=4))
    return theirs.calls, ours.calls


@pytest.mark.parametrize("kwargs", [{}, {"logging_interval": "step"}, {"logging_interval": "epoch"},
                                    {"log_momentum": True, "log_weight_decay": True}])
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_same_logs_with_default_log_every_n_steps(kwargs, kind):
    theirs, ours = runs(kwargs, kind, None, epochs=2, batches=30, every=50)
    assert theirs and ours == theirs


needs_every = pytest.mark.skipif("log_every_n_steps" not in RUN_FIELDS,
                                 reason="the trainer does not send RunInfo.log_every_n_steps yet")
needs_schedulers = pytest.mark.skipif("schedulers" not in RUN_FIELDS,
                                      reason="the trainer does not send RunInfo.schedulers yet")


@needs_every
@pytest.mark.parametrize("kwargs", [{}, {"logging_interval": "step"}, {"log_momentum": True}])
@pytest.mark.parametrize("every", [1, 3])
def test_same_logs_with_log_every_n_steps(kwargs, every):
    theirs, ours = runs(kwargs, "adam", None, epochs=2, batches=4, every=every)
    assert theirs and ours == theirs


@needs_every
@needs_schedulers
@pytest.mark.parametrize("kwargs", [{}, {"logging_interval": "step"}, {"logging_interval": "epoch"}])
@pytest.mark.parametrize("scheduler", ["epoch", "step"])
def test_same_logs_with_a_scheduler(kwargs, scheduler):
    theirs, ours = runs(kwargs, "sgd", scheduler, epochs=3, batches=2, every=1)
    assert theirs and ours == theirs
