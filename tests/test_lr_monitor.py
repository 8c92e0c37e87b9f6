"""LearningRateMonitor / learning_rate_monitor: Lightning's key names, cadence, the value reader, errors."""

from __future__ import annotations

import types

import attrs
import pytest

from fhooks.callbacks import LearningRateMonitor
from fhooks.core import Do, Event, Raise, fold
from fhooks.core.events import OptimizerInfo, RunInfo
from fhooks.errors import InvalidArgument, MisconfigurationError
from fhooks.hooks import LogOptimizerValues, SchedulerInfo, learning_rate_monitor
from fhooks.hooks.lr_monitor import lr_names, require_logger


@attrs.frozen
class Run(RunInfo):
    """RunInfo with the fields the monitor reads when the trainer provides them."""

    schedulers: tuple = ()
    log_every_n_steps: int = 50


SGD = OptimizerInfo("SGD", ({"lr": 0.1, "momentum": 0.9, "weight_decay": 0.0},))
ADAM = OptimizerInfo("Adam", ({"lr": 1e-3, "betas": (0.9, 0.999), "weight_decay": 0.0},))
ADAM2 = OptimizerInfo("Adam", ({"lr": 1e-3, "betas": (0.9, 0.999)}, {"lr": 1e-2, "betas": (0.9, 0.999)}))
NAMED = OptimizerInfo("SGD", ({"lr": 0.1, "name": "enc"}, {"lr": 0.2, "name": "dec"}))


def names(optimizers, schedulers=()):
    return [n for _, group_names, _ in lr_names(optimizers, schedulers) for n in group_names]


def run(hook, info, epochs=2, batches=2):
    """fit_start, then per epoch: epoch start and batch starts (one optimizer step per batch)."""
    events, step = [Event("fit_start", data=info)], 0
    for epoch in range(epochs):
        events.append(Event("train_epoch_start", epoch=epoch, step=step))
        for i in range(batches):
            events.append(Event("train_batch_start", epoch=epoch, step=step, batch_idx=i))
            step += 1
    return fold(hook, events)


def logs(effects):
    return [(e.step, list(e.keys)) for e in effects if isinstance(e, LogOptimizerValues)]


class TestNames:
    @pytest.mark.parametrize(("optimizers", "schedulers", "expected"), [
        ([SGD], (), ["lr-SGD"]),
        ([ADAM2], (), ["lr-Adam/pg1", "lr-Adam/pg2"]),
        ([ADAM, ADAM, SGD], (), ["lr-Adam", "lr-Adam-1", "lr-SGD"]),
        ([NAMED], (), ["lr-SGD/enc", "lr-SGD/dec"]),
        ([OptimizerInfo("SGD", ({"lr": 0.1, "name": "only"},))], (), ["lr-SGD/only"]),
        ([OptimizerInfo("SGD", ({"lr": 0.1, "name": "enc"}, {"lr": 0.2}))], (), ["lr-SGD/enc", "lr-SGD/pg2"]),
        ([NAMED], (SchedulerInfo(0, "epoch", "my_sched"),), ["my_sched/enc", "my_sched/dec"]),
        # scheduler configs first, then optimizers without one
        ([SGD, ADAM], (SchedulerInfo(1, "step"),), ["lr-Adam", "lr-SGD"]),
        ([SGD, SGD], (SchedulerInfo(1),), ["lr-SGD", "lr-SGD-1"]),
        # a named config does not count its class, but is suffixed when the class was counted twice before
        ([SGD, SGD, SGD], (SchedulerInfo(2, name="mine"),), ["mine", "lr-SGD", "lr-SGD-1"]),
        ([SGD, SGD, SGD], (SchedulerInfo(0), SchedulerInfo(1), SchedulerInfo(2, name="mine")),
         ["lr-SGD", "lr-SGD-1", "mine-1"]),
    ])
    def test_lightning_names(self, optimizers, schedulers, expected):
        assert names(optimizers, schedulers) == expected

    def test_duplicate_group_names(self):
        dup = OptimizerInfo("SGD", ({"lr": 0.1, "name": "pg2"}, {"lr": 0.2}))
        with pytest.raises(MisconfigurationError) as info:
            names([SGD, dup])
        assert str(info.value) == ("learning_rate_monitor: optimizer 1 (lr-SGD) has several param groups named "
                                   "['pg2']; the param group names of one optimizer must be unique")
        _, effects = fold(learning_rate_monitor(), [Event("fit_start", data=RunInfo(optimizers=(SGD, dup)))])
        assert effects[-1] == Raise(info.value)

    def test_momentum_and_weight_decay_keys(self):
        cb = LearningRateMonitor(log_momentum=True, log_weight_decay=True)
        state, _ = run(cb, RunInfo(optimizers=(SGD, ADAM)), epochs=1, batches=0)
        assert cb.lr_names == ["lr-SGD", "lr-Adam"]
        assert cb.keys == ["lr-SGD", "lr-SGD-momentum", "lr-SGD-weight_decay",
                           "lr-Adam", "lr-Adam-momentum", "lr-Adam-weight_decay"]
        assert dict(state.at_epoch) == {
            "lr-SGD": (0, 0, "lr", "get"), "lr-SGD-momentum": (0, 0, "momentum", "momentum"),
            "lr-SGD-weight_decay": (0, 0, "weight_decay", "get"), "lr-Adam": (1, 0, "lr", "get"),
            "lr-Adam-momentum": (1, 0, "momentum", "momentum"), "lr-Adam-weight_decay": (1, 0, "weight_decay", "get")}


class TestCadence:
    def test_no_scheduler_logs_at_every_step_and_every_epoch(self):
        _, effects = run(learning_rate_monitor(), Run(optimizers=(SGD,), log_every_n_steps=1))
        assert logs(effects) == [(step, ["lr-SGD"]) for step in (0, 0, 1, 2, 2, 3)]

    @pytest.mark.parametrize(("interval", "expected"), [
        ("step", [(0, ["lr-SGD"]), (1, ["lr-SGD"]), (2, ["lr-SGD"]), (3, ["lr-SGD"])]),
        ("epoch", [(0, ["lr-SGD"]), (2, ["lr-SGD"])]),
    ])
    def test_fixed_interval(self, interval, expected):
        _, effects = run(learning_rate_monitor(interval), Run(optimizers=(SGD,), log_every_n_steps=1))
        assert logs(effects) == expected

    def test_log_every_n_steps_gates_step_logging(self):
        info = Run(optimizers=(SGD,), log_every_n_steps=3)
        _, effects = run(learning_rate_monitor("step"), info, epochs=2, batches=4)
        assert logs(effects) == [(2, ["lr-SGD"]), (5, ["lr-SGD"])]
        _, effects = run(learning_rate_monitor("step"), Run(optimizers=(SGD,), log_every_n_steps=0))
        assert logs(effects) == []

    def test_default_log_every_n_steps_is_50(self):
        _, effects = run(learning_rate_monitor("step"), RunInfo(optimizers=(SGD,)), epochs=1, batches=51)
        assert logs(effects) == [(49, ["lr-SGD"])]

    def test_none_follows_each_schedulers_interval(self):
        info = Run(optimizers=(SGD, ADAM, NAMED), schedulers=(SchedulerInfo(0, "epoch"), SchedulerInfo(1, "step")),
                   log_every_n_steps=1)
        _, effects = run(learning_rate_monitor(), info, epochs=1, batches=1)
        assert logs(effects) == [(0, ["lr-SGD", "lr-SGD-1/enc", "lr-SGD-1/dec"]),
                                 (0, ["lr-Adam", "lr-SGD-1/enc", "lr-SGD-1/dec"])]

    def test_step_and_epoch_log_every_scheduler(self):
        info = Run(optimizers=(SGD, ADAM), schedulers=(SchedulerInfo(0, "epoch"), SchedulerInfo(1, "step")),
                   log_every_n_steps=1)
        _, effects = run(learning_rate_monitor("step"), info, epochs=1, batches=1)
        assert logs(effects) == [(0, ["lr-SGD", "lr-Adam"])]
        _, effects = run(learning_rate_monitor("epoch"), info, epochs=1, batches=1)
        assert logs(effects) == [(0, ["lr-SGD", "lr-Adam"])]

    def test_fit_start_checks_for_a_logger_and_warns_about_momentum(self):
        _, effects = fold(learning_rate_monitor(log_momentum=True),
                          [Event("fit_start", data=RunInfo(optimizers=(SGD, ADAM)))])
        assert [e.label for e in effects] == ["learning_rate_monitor: require a logger",
                                              "learning_rate_monitor: warn that momentum is missing"]
        with pytest.warns(RuntimeWarning, match="some optimizers have neither momentum nor betas"):
            effects[1].fn(None)
        only_sgd = [Event("fit_start", data=RunInfo(optimizers=(SGD,)))]
        _, effects = fold(learning_rate_monitor(log_momentum=True), only_sgd)
        assert len(effects) == 1
        # with schedulers, only the optimizers that have one are checked (as Lightning)
        info = Run(optimizers=(SGD, OptimizerInfo("Plain", ({"lr": 1.0},))), schedulers=(SchedulerInfo(0),))
        assert len(fold(learning_rate_monitor(log_momentum=True), [Event("fit_start", data=info)])[1]) == 1

    def test_require_logger(self):
        for trainer in (types.SimpleNamespace(loggers=[]), types.SimpleNamespace(logger=None)):
            with pytest.raises(MisconfigurationError) as info:
                require_logger(types.SimpleNamespace(trainer=trainer))
            assert str(info.value) == ("learning_rate_monitor: the Trainer has no logger; give it one (logger=...) "
                                       "or remove the callback")
        require_logger(types.SimpleNamespace(trainer=types.SimpleNamespace(loggers=[object()])))


class TestValues:
    def test_handler_reads_live_optimizers(self):
        torch = pytest.importorskip("torch")
        import fhooks.interpret.model.optim_values  # noqa: F401 - registers the handler
        from fhooks.interpret import Context, interpret

        p = [torch.nn.Parameter(torch.zeros(1)) for _ in range(2)]
        sgd = torch.optim.SGD([{"params": [p[0]]}, {"params": [p[1]], "lr": 0.5}], lr=0.1, momentum=0.9,
                              weight_decay=0.01)
        adam = torch.optim.Adam([p[0]], lr=1e-3, betas=(0.8, 0.99))
        plain = torch.optim.Adadelta([p[1]], lr=2.0)
        logged = []
        trainer = types.SimpleNamespace(optimizers=[sgd, adam, plain], callback_metrics={},
                                        log_metrics=lambda values, step: logged.append((values, step)))
        cb = LearningRateMonitor(log_momentum=True, log_weight_decay=True)
        info = RunInfo(optimizers=tuple(OptimizerInfo(type(o).__name__, tuple(
            {k: v for k, v in g.items() if k != "params"} for g in o.param_groups)) for o in (sgd, adam, plain)))
        _, effects = fold(cb, [Event("fit_start", data=info), Event("train_epoch_start", step=7)])
        for effect in effects[-2:]:  # the LogOptimizerValues, then the class's Do that keeps Lightning's lrs
            interpret(effect, Context(trainer, None, Event("train_epoch_start")))
        assert cb.lrs["lr-SGD/pg2"] == [0.5] and cb.last_momentum_values["lr-Adam-momentum"] == 0.8
        assert logged == [({
            "lr-SGD/pg1": 0.1, "lr-SGD/pg1-momentum": 0.9, "lr-SGD/pg1-weight_decay": 0.01,
            "lr-SGD/pg2": 0.5, "lr-SGD/pg2-momentum": 0.9, "lr-SGD/pg2-weight_decay": 0.01,
            "lr-Adam": 1e-3, "lr-Adam-momentum": 0.8, "lr-Adam-weight_decay": 0,
            "lr-Adadelta": 2.0, "lr-Adadelta-momentum": 0, "lr-Adadelta-weight_decay": 0,
        }, 7)]
        assert trainer.callback_metrics["lr-SGD/pg2"] == 0.5


class TestClass:
    def test_errors(self):
        with pytest.raises(InvalidArgument) as info:
            learning_rate_monitor("batch")
        assert str(info.value) == "learning_rate_monitor: logging_interval='batch' must be 'step', 'epoch' or None"
        with pytest.raises(InvalidArgument) as info:
            LearningRateMonitor(logging_interval="batch")
        assert str(info.value) == "LearningRateMonitor: logging_interval='batch' must be 'step', 'epoch' or None"

    def test_repr_attributes_state(self):
        cb = LearningRateMonitor("epoch", log_weight_decay=True)
        assert repr(cb) == "LearningRateMonitor(logging_interval='epoch', log_weight_decay=True)"
        assert (cb.logging_interval, cb.log_momentum, cb.log_weight_decay) == ("epoch", False, True)
        assert cb.state_key == "LearningRateMonitor"
        run(cb, RunInfo(optimizers=(ADAM2,)))
        other = LearningRateMonitor("epoch", log_weight_decay=True)
        other.load_state_dict(cb.state_dict())
        assert other.state == cb.state and other.lr_names == ["lr-Adam/pg1", "lr-Adam/pg2"]

    def test_do_effects_are_labelled(self):
        _, effects = fold(learning_rate_monitor(), [Event("fit_start", data=RunInfo())])
        assert isinstance(effects[0], Do) and effects[0].fn is require_logger
