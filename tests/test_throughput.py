"""Throughput (the window) and ThroughputMonitor: Lightning's figures, keys, cadence and errors."""

from __future__ import annotations

import random

import attrs
import pytest
import torch

from fhooks import Trainer
from fhooks.callbacks.throughput import ThroughputMonitor
from fhooks.core import Event, Log, Raise, fold
from fhooks.core.events import BatchData
from fhooks.errors import InvalidArgument
from fhooks.hooks.throughput import Throughput, throughput_monitor
from fhooks.trainer.flops import available_flops, measure_flops
from tests.models import Regressor, loader


@attrs.frozen
class Run:
    log_every_n_steps: int = 1
    world_size: int = 1


def updates(tp, items):
    state = tp.init
    for item in items:
        state = tp.update(state, **item)
    return state


class TestThroughput:
    def test_lightning_example(self):
        tp = Throughput(available_flops=50, window_size=2)
        state = updates(tp, [dict(time=1, batches=1, samples=2, flops=10, lengths=10),
                             dict(time=2, batches=2, samples=4, flops=10, lengths=20)])
        assert tp.compute(state) == {"time": 2, "batches": 2, "samples": 4, "lengths": 20,
                                     "device/batches_per_sec": 1.0, "device/samples_per_sec": 2.0,
                                     "device/items_per_sec": 10.0, "device/flops_per_sec": 10.0, "device/mfu": 0.2}

    @pytest.mark.parametrize("world_size, window, with_lengths, with_flops", [
        (1, 2, False, False), (1, 5, True, True), (3, 4, True, True), (2, 3, False, True), (4, 100, True, False)])
    def test_same_figures_as_lightning(self, world_size, window, with_lengths, with_flops):
        lightning = pytest.importorskip("lightning.fabric.utilities.throughput")
        rng = random.Random(window * 10 + world_size)
        ours = Throughput(available_flops=1e3, world_size=world_size, window_size=window, separator="|")
        theirs = lightning.Throughput(available_flops=1e3, world_size=world_size, window_size=window, separator="|")
        state, t, b, s, n = ours.init, 0.0, 0, 0, 0
        for _ in range(12):
            t, b = t + rng.uniform(0.1, 2.0), b + 1
            s += rng.randint(1, 4)
            n += rng.randint(4, 9)
            item = dict(time=t, batches=b, samples=s, lengths=n if with_lengths else None,
                        flops=rng.randint(1, 50) if with_flops else None)
            state = ours.update(state, **item)
            theirs.update(**item)
            assert ours.compute(state) == theirs.compute()

    def test_compute_before_any_update(self):
        assert Throughput().compute(Throughput().init) == {}

    def test_update_is_pure(self):
        tp = Throughput(window_size=2)
        first = tp.update(tp.init, time=1.0, batches=1, samples=1)
        second = tp.update(first, time=2.0, batches=2, samples=2)
        third = tp.update(second, time=3.0, batches=3, samples=3)
        assert first.time == (1.0,) and second.time == (1.0, 2.0) and third.time == (2.0, 3.0)

    @pytest.mark.parametrize("item, message", [
        (dict(time=1.0, batches=2, samples=2), "time=1.0 must be greater than the last time 1.0 (totals are "
                                               "cumulative and must increase at every update)"),
        (dict(time=2.0, batches=1, samples=3), "batches=1 must be greater than the last batches 1 (totals are "
                                               "cumulative and must increase at every update)"),
        (dict(time=float("nan"), batches=2, samples=2), "time=nan must be a finite number"),
        (dict(time=float("inf"), batches=2, samples=2), "time=inf must be a finite number"),
        (dict(time=2.0, batches=3, samples=2), "samples=2 must be at least batches=3"),
        (dict(time=2.0, batches=2, samples=2, lengths=5), "lengths given now but not at the earlier "
                                                          "updates; give lengths at every update or at none "
                                                          "(start over from init)"),
        (dict(time=2.0, batches=2, samples=2, flops="many"), "flops='many' must be a finite number"),
    ])
    def test_bad_updates(self, item, message):
        tp = Throughput()
        state = tp.update(tp.init, time=1.0, batches=1, samples=1)
        with pytest.raises(InvalidArgument) as info:
            tp.update(state, **item)
        assert str(info.value) == f"Throughput.update: {message}"

    def test_lengths_below_samples_and_then_missing(self):
        tp = Throughput()
        with pytest.raises(InvalidArgument, match=r"^Throughput.update: lengths=1 must be at least samples=2$"):
            tp.update(tp.init, time=1.0, batches=1, samples=2, lengths=1)
        state = tp.update(tp.init, time=1.0, batches=1, samples=2, lengths=2)
        with pytest.raises(InvalidArgument, match="lengths missing now but given at the earlier updates"):
            tp.update(state, time=2.0, batches=2, samples=3)

    @pytest.mark.parametrize("kwargs, message", [
        ({"window_size": 1}, "Throughput: window_size=1 must be an int of at least 2 (rates need a first and a "
                             "last update)"),
        ({"world_size": 0}, "Throughput: world_size=0 must be a positive int"),
        ({"available_flops": float("nan")}, "Throughput: available_flops=nan must be a finite number"),
    ])
    def test_bad_options(self, kwargs, message):
        with pytest.raises(InvalidArgument) as info:
            Throughput(**kwargs)
        assert str(info.value) == message


def batch(n):
    return BatchData(torch.zeros(n, 2))


def first_dim(b):
    return b.shape[0]


def train_events(times, size=3, start=0.0, step=0, accumulate=1):
    events = [Event("train_start", time=start, step=step)]
    for i, t in enumerate(times):
        events.append(Event("train_batch_start", step=step, batch_idx=i))
        if (i + 1) % accumulate == 0:
            step += 1
        events.append(Event("train_batch_end", step=step, batch_idx=i, time=t, data=batch(size)))
    return events


def logs(hook, events, run=Run()):
    _, effects = fold(hook, [Event("setup", data=run), *events])
    return effects


class TestMonitor:
    def test_lightning_fit_figures(self):
        hook = throughput_monitor(first_dim, lambda b: 2 * b.shape[0], window_size=4, flops_per_batch=10,
                                  available_flops=100)
        effects = logs(hook, train_events([1.5, 2.5, 3.5, 4.5, 5.5]))
        assert all(type(e) is Log for e in effects) and [e.step for e in effects] == [1, 2, 3, 4, 5]
        assert effects[0].metrics == {"train/time": 1.5, "train/batches": 1, "train/samples": 3, "train/lengths": 6,
                                      "epoch": 0}
        assert effects[3].metrics == {
            "train/time": 4.5, "train/batches": 4, "train/samples": 12, "train/lengths": 24,
            "train/device/batches_per_sec": 1.0, "train/device/samples_per_sec": 3.0,
            "train/device/items_per_sec": 6.0, "train/device/flops_per_sec": 10.0, "train/device/mfu": 0.1,
            "epoch": 0}

    def test_world_size_adds_global_rates(self):
        effects = logs(throughput_monitor(first_dim, window_size=2, flops_per_batch=5), train_events([1.0, 2.0]),
                       Run(world_size=2))
        assert {k: v for k, v in effects[-1].metrics.items() if "per_sec" in k} == {
            "train/device/batches_per_sec": 1.0, "train/device/samples_per_sec": 3.0, "train/batches_per_sec": 2.0,
            "train/samples_per_sec": 6.0, "train/flops_per_sec": 10.0, "train/device/flops_per_sec": 5.0}

    def test_validation_time_is_not_training_time(self):
        events = train_events([1.0, 2.0]) + [
            Event("validation_start", time=2.5, step=2),
            Event("validation_batch_end", time=4.0, step=2, data=batch(5)),
            Event("validation_batch_end", time=6.0, step=2, data=batch(5)),
            Event("validation_end", time=10.0, step=2),
            Event("train_batch_start", step=2, batch_idx=2),
            Event("train_batch_end", step=3, batch_idx=2, time=11.0, data=batch(3)),
        ]
        effects = logs(throughput_monitor(first_dim, window_size=2), events)
        assert [(e.metrics["validate/time"], e.metrics["validate/samples"], e.step) for e in effects
                if "validate/time" in e.metrics] == [(1.5, 5, 1), (3.5, 10, 2)]
        assert "epoch" not in effects[2].metrics
        assert effects[-1].metrics["train/time"] == 3.0
        assert effects[-1].metrics["train/device/batches_per_sec"] == 1.0

    def test_sanity_check_is_skipped(self):
        events = [Event("validation_start", "sanity_check"),
                  Event("validation_batch_end", "sanity_check", time=1.0, data=batch(2)),
                  Event("validation_end", "sanity_check", time=2.0)]
        assert logs(throughput_monitor(first_dim), events) == ()

    def test_logs_only_after_an_optimizer_step(self):
        effects = logs(throughput_monitor(first_dim), train_events([1.0, 2.0, 3.0, 4.0], accumulate=2))
        assert [(e.step, e.metrics["train/batches"]) for e in effects] == [(1, 2), (2, 4)]

    def test_log_every_n_steps(self):
        effects = logs(throughput_monitor(first_dim), train_events([1.0, 2.0, 3.0, 4.0, 5.0]), Run(2))
        assert [e.step for e in effects] == [2, 4]
        assert logs(throughput_monitor(first_dim), train_events([1.0, 2.0]), Run(0)) == ()

    def test_test_and_predict_stages(self):
        events = [Event("test_start", "test", time=1.0), Event("test_batch_end", "test", time=2.0, data=batch(4)),
                  Event("predict_start", "predict", time=3.0),
                  Event("predict_batch_end", "predict", time=3.5, data=batch(2))]
        assert [dict(e.metrics) for e in logs(throughput_monitor(first_dim), events)] == [
            {"test/time": 1.0, "test/batches": 1, "test/samples": 4},
            {"predict/time": 0.5, "predict/batches": 1, "predict/samples": 2}]

    def test_resume_keeps_totals_and_restarts_the_clock(self):
        hook = throughput_monitor(first_dim, window_size=2)
        state, _ = fold(hook, [Event("setup", data=Run()), *train_events([5.0, 6.0])])
        _, effects = fold(hook, [Event("setup", data=Run()), *train_events([1.0], start=0.5, step=2)], state)
        assert dict(effects[-1].metrics) == {"train/time": 0.5, "train/batches": 3, "train/samples": 9, "epoch": 0}

    @pytest.mark.parametrize("fn, message", [
        (lambda b: 0, "batch_size_fn returned 0 for train_batch_end batch 0; it must return a positive int"),
        (lambda b: 2.5, "batch_size_fn returned 2.5 for train_batch_end batch 0; it must return a positive int"),
    ])
    def test_bad_batch_sizes_raise_on_the_run(self, fn, message):
        effects = logs(throughput_monitor(fn), train_events([1.0]))
        assert effects == (Raise(InvalidArgument(f"throughput_monitor (train): {message}")),)

    def test_a_clock_that_does_not_move_raises(self):
        effects = logs(throughput_monitor(first_dim), train_events([1.0, 1.0]))
        assert effects[-1] == Raise(InvalidArgument(
            "throughput_monitor (train): Throughput.update: time=1.0 must be greater than the last time 1.0 "
            "(totals are cumulative and must increase at every update)"))

    @pytest.mark.parametrize("args, kwargs, message", [
        ((3,), {}, "ThroughputMonitor: batch_size_fn=3 must be callable: batch -> number of samples"),
        ((len, "x"), {}, "ThroughputMonitor: length_fn='x' must be None or callable: batch -> number of items"),
        ((len,), {"window": 3}, "ThroughputMonitor: unknown keyword 'window'; accepted: window_size, separator, "
                                "flops_per_batch, available_flops"),
        ((len,), {"window_size": 1}, "ThroughputMonitor: window_size=1 must be an int of at least 2 (rates need a "
                                     "first and a last update)"),
        ((len,), {"flops_per_batch": -1}, "ThroughputMonitor: flops_per_batch=-1 must be a positive number or None"),
        ((len,), {"available_flops": 0}, "ThroughputMonitor: available_flops=0 must be a positive number or None"),
    ])
    def test_bad_arguments(self, args, kwargs, message):
        with pytest.raises(InvalidArgument) as info:
            ThroughputMonitor(*args, **kwargs)
        assert str(info.value) == message

    def test_reprs(self):
        assert repr(throughput_monitor(first_dim, len, window_size=4)) == \
            "throughput_monitor(first_dim, length_fn=len, window_size=4)"
        assert repr(ThroughputMonitor(len, flops_per_batch=10)) == "ThroughputMonitor(len, flops_per_batch=10)"


class Recorder:
    group_separator = "/"

    def __init__(self):
        self.calls = []

    def log_metrics(self, metrics, step=None):
        self.calls.append((dict(metrics), step))


def test_with_a_trainer():
    recorder = Recorder()
    monitor = ThroughputMonitor(lambda b: b[0].shape[0], window_size=10, flops_per_batch=100)
    trainer = Trainer(max_epochs=1, logger=recorder, log_every_n_steps=50, callbacks=[monitor],
                      enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
    trainer.fit(Regressor(), loader(60, 1))
    train = [(m, s) for m, s in recorder.calls if "train/time" in m]
    assert [s for _, s in train] == [50]
    metrics = train[0][0]
    assert (metrics["train/batches"], metrics["train/samples"], metrics["epoch"]) == (50, 50, 0)
    assert metrics["train/device/flops_per_sec"] == pytest.approx(metrics["train/device/batches_per_sec"] * 100)
    assert monitor.state.stages["train"].batches == 60


class TestFlops:
    def test_meta_model(self):
        with torch.device("meta"):
            model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
            x = torch.randn(4, 8)
        forward = measure_flops(model, lambda: model(x))
        assert forward == 2 * 4 * (8 * 16 + 16 * 2)
        assert measure_flops(model, lambda: model(x), loss_fn=lambda y: y.sum()) > forward

    def test_no_peak_for_cpu(self):
        assert available_flops("cpu", "bf16-mixed") is None


class TestModuleFlops:
    """As Lightning, the class reads the module's ``flops_per_batch`` when none was given."""

    def fit(self, module, **kwargs):
        from fhooks import Trainer
        from fhooks.callbacks import ThroughputMonitor
        from tests.models import loader

        logged = {}
        monitor = ThroughputMonitor(lambda batch: batch[0].shape[0], window_size=2, available_flops=1e9, **kwargs)
        trainer = Trainer(callbacks=[monitor], max_epochs=1, log_every_n_steps=1, enable_progress_bar=False,
                          enable_model_summary=False, enable_checkpointing=False)
        trainer.log_metrics = lambda metrics, step=None: logged.update(metrics)
        trainer.fit(module, loader(32))
        return logged

    def test_read_from_the_module(self):
        from tests.models import Regressor

        module = Regressor()
        module.flops_per_batch = 1000.0
        assert "train/device/flops_per_sec" in self.fit(module)
        assert "train/device/flops_per_sec" not in self.fit(Regressor())

    def test_a_given_value_wins(self):
        from tests.models import Regressor

        module = Regressor()
        module.flops_per_batch = "not a number"
        assert "train/device/mfu" in self.fit(module, flops_per_batch=500.0)
