"""DeviceStatsMonitor: Lightning's cadence and key names, the setup checks, the CPU and CUDA figures."""

from __future__ import annotations

import importlib.util

import attrs
import pytest
import torch

import fhooks.interpret.model.device_stats as handler
from fhooks import Trainer
from fhooks.callbacks.device_stats import DeviceStatsMonitor
from fhooks.core import Event, fold
from fhooks.core.events import BatchData, RunInfo
from fhooks.errors import InvalidArgument, MisconfigurationError
from fhooks.hooks.device_stats import CheckDeviceStats, LogDeviceStats, device_stats_monitor
from tests.models import Regressor, loader

HAS_PSUTIL = importlib.util.find_spec("psutil") is not None
needs_psutil = pytest.mark.skipif(not HAS_PSUTIL, reason="psutil is not installed")
CPU_KEYS = ["cpu_percent", "cpu_swap_percent", "cpu_vm_percent"]


@attrs.frozen
class Run:
    log_every_n_steps: int = 50


class Recorder:
    """A logger that keeps every call."""

    group_separator = "/"

    def __init__(self) -> None:
        self.calls: list[tuple[dict, int]] = []

    def log_metrics(self, metrics, step=None):
        self.calls.append((dict(metrics), step))


def fit_events(batches: int, val_batches: int, accumulate: int = 1) -> list[Event]:
    """One epoch's events as the trainer emits them, with validation at its end."""
    events, step = [], 0
    for i in range(batches):
        events.append(Event("train_batch_start", step=step, batch_idx=i, data=BatchData()))
        if (i + 1) % accumulate == 0 or i == batches - 1:
            step += 1
        events.append(Event("train_batch_end", step=step, batch_idx=i, data=BatchData()))
    events.append(Event("validation_start", step=step))
    for i in range(val_batches):
        events += [Event("validation_batch_start", step=step, batch_idx=i), Event("validation_batch_end", step=step, batch_idx=i)]
    return events


def logged(hook, events, every):
    _, effects = fold(hook, [Event("setup", data=Run(every)), *events])
    return [(e.hook_name, e.step) for e in effects if isinstance(e, LogDeviceStats)]


class TestCadence:
    def test_every_batch(self):
        assert logged(device_stats_monitor(), fit_events(2, 1), 1) == [
            ("on_train_batch_start", 0), ("on_train_batch_end", 0), ("on_train_batch_start", 1),
            ("on_train_batch_end", 1), ("on_validation_batch_start", 1), ("on_validation_batch_end", 1)]

    def test_every_second_step_and_eval_batch(self):
        assert logged(device_stats_monitor(), fit_events(4, 3), 2) == [
            ("on_train_batch_start", 1), ("on_train_batch_end", 1), ("on_train_batch_start", 3),
            ("on_train_batch_end", 3), ("on_validation_batch_start", 3), ("on_validation_batch_end", 3)]

    def test_accumulation_counts_steps_not_batches(self):
        # steps before each batch: 0, 0, 1, 1; (step + 1) % 2 == 0 for the last two
        assert logged(device_stats_monitor(), fit_events(4, 0, accumulate=2), 2) == [
            ("on_train_batch_start", 1), ("on_train_batch_end", 1), ("on_train_batch_start", 1),
            ("on_train_batch_end", 1)]

    def test_zero_turns_it_off(self):
        assert logged(device_stats_monitor(), fit_events(3, 2), 0) == []

    def test_eval_counter_restarts_each_run(self):
        # 3 batches per run, every 2: the 2nd batch of each run logs (a running count would log at 2, 4 and 6)
        events = fit_events(1, 3) + fit_events(1, 3)[2:]
        names = [name for name, _ in logged(device_stats_monitor(), events, 2)]
        assert names == ["on_validation_batch_start", "on_validation_batch_end"] * 2

    def test_default_is_50(self):
        events = [Event("setup", data=RunInfo())] + fit_events(60, 0)
        _, effects = fold(device_stats_monitor(), events)
        assert [(e.hook_name, e.step) for e in effects if isinstance(e, LogDeviceStats)] == [
            ("on_train_batch_start", 49), ("on_train_batch_end", 49)]

    @pytest.mark.parametrize("stage, expected", [("fit", (CheckDeviceStats(False),)), ("validate", ()), ("test", ())])
    def test_setup_checks_only_when_fitting(self, stage, expected):
        assert fold(device_stats_monitor(cpu_stats=False), [Event("setup", stage)])[1] == expected

    def test_bad_cpu_stats(self):
        with pytest.raises(InvalidArgument) as info:
            DeviceStatsMonitor(cpu_stats="yes")
        assert str(info.value) == "DeviceStatsMonitor: cpu_stats='yes' must be None, True or False"

    def test_class_repr_and_attribute(self):
        assert repr(DeviceStatsMonitor()) == "DeviceStatsMonitor()"
        assert DeviceStatsMonitor(cpu_stats=False).cpu_stats is False


def quiet(**kwargs):
    return Trainer(max_epochs=1, enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                   accelerator="cpu", **kwargs)


class TestWithTrainer:
    def test_needs_a_logger(self):
        with pytest.raises(MisconfigurationError) as info:
            quiet(callbacks=[DeviceStatsMonitor()], logger=False).fit(Regressor(), loader(16, 8))
        assert str(info.value) == ("DeviceStatsMonitor: the Trainer has no logger (logger=False); give it one "
                                   "(e.g. logger=CSVLogger(...)) or remove the callback")

    def test_cpu_without_psutil_says_what_to_install(self, monkeypatch):
        monkeypatch.setattr(handler, "psutil_available", lambda: False)
        with pytest.raises(ModuleNotFoundError) as info:
            quiet(callbacks=[DeviceStatsMonitor()], logger=Recorder()).fit(Regressor(), loader(16, 8))
        assert str(info.value) == ("DeviceStatsMonitor: CPU stats need psutil, which is not installed; "
                                   "pip install 'fhooks[psutil]' (or pip install psutil), or pass cpu_stats=False")

    def test_cpu_stats_false_logs_nothing_on_cpu(self, monkeypatch):
        monkeypatch.setattr(handler, "psutil_available", lambda: False)
        recorder = Recorder()
        quiet(callbacks=[DeviceStatsMonitor(cpu_stats=False)], logger=recorder, limit_train_batches=60).fit(
            Regressor(), loader(64, 1))
        assert not any(k.startswith("DeviceStatsMonitor") for metrics, _ in recorder.calls for k in metrics)

    @needs_psutil
    def test_cpu_keys_and_steps(self):
        recorder = Recorder()
        trainer = quiet(callbacks=[DeviceStatsMonitor()], logger=recorder, limit_train_batches=60)
        trainer.fit(Regressor(), loader(64, 1))
        calls = [(metrics, step) for metrics, step in recorder.calls if any("DeviceStats" in k for k in metrics)]
        assert [sorted(m) for m, _ in calls] == [
            [f"DeviceStatsMonitor.on_train_batch_start/{k}" for k in CPU_KEYS],
            [f"DeviceStatsMonitor.on_train_batch_end/{k}" for k in CPU_KEYS]]
        assert [step for _, step in calls] == [49, 49]
        assert all(0.0 <= v <= 100.0 for m, _ in calls for v in m.values())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
class TestCuda:
    def test_memory_stats_keys(self):
        recorder = Recorder()
        trainer = Trainer(max_epochs=1, enable_progress_bar=False, enable_model_summary=False,
                          enable_checkpointing=False, accelerator="cuda", logger=recorder, limit_train_batches=50,
                          callbacks=[DeviceStatsMonitor(cpu_stats=False)])
        trainer.fit(Regressor(), loader(64, 1))
        metrics = [m for m, _ in recorder.calls if any("DeviceStats" in k for k in m)][0]
        prefix = "DeviceStatsMonitor.on_train_batch_start/"
        for key in ("allocated_bytes.all.current", "allocated_bytes.all.peak", "reserved_bytes.all.current",
                    "active_bytes.all.peak", "num_ooms", "num_alloc_retries"):
            assert prefix + key in metrics
        assert metrics[prefix + "allocated_bytes.all.current"] > 0
        assert not any(k.endswith("/cpu_percent") for k in metrics)

    @needs_psutil
    def test_cpu_stats_true_adds_cpu_figures(self):
        stats = handler.device_stats("cuda", True)
        assert set(CPU_KEYS) <= set(stats) and "allocated_bytes.all.current" in stats
