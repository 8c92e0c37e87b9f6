"""Example tests for ``timer`` and ``Timer``: durations, where checks run, stage times, errors, state."""

from __future__ import annotations

import datetime
import json

import pytest

from fhooks.callbacks import Timer
from fhooks.core import Event, Stop, fold, from_data, scan, to_data
from fhooks.errors import InvalidArgument
from fhooks.hooks import TimerState, timer
from fhooks.hooks.timer import end_time, parse_duration, start_time, time_elapsed, time_remaining

ACCEPTED = ("expected a string 'DD:HH:MM:SS' (e.g. '00:12:00:00'), a datetime.timedelta, "
            "a dict of timedelta arguments or None")


def run(start=0.0, batch_times=(), epoch_ends=()):
    """fit_start at 0, train_start at ``start``, a train_batch_end per time, train_epoch_end per time, in time order."""
    events = [Event("fit_start"), Event("train_start", time=start)]
    events += [Event("train_batch_end", step=i + 1, time=t) for i, t in enumerate(batch_times)]
    events += [Event("train_epoch_end", epoch=i, time=t) for i, t in enumerate(epoch_ends)]
    return sorted(events, key=lambda e: e.time)


def stop_times(hook, events):
    return [(e.kind, e.time) for e, (_, out) in zip(events, scan(hook, events)) if any(type(x) is Stop for x in out)]


class TestDuration:
    @pytest.mark.parametrize("given, seconds", [
        ("00:12:00:00", 43200.0),
        ("1:00:00:00", 86400.0),
        ("100:00:00:01", 8640001.0),
        ("00:99:00:00", 99 * 3600.0),
        ("12:34:56:65", ((12 * 24 + 34) * 60 + 56) * 60 + 65.0),
        ("  00:00:01:00\n", 60.0),
        (datetime.timedelta(minutes=1, microseconds=500), 60.0005),
        ({"minutes": 1.5}, 90.0),
        ({"weeks": 1, "days": 1}, 8 * 86400.0),
        (datetime.timedelta(0), 0.0),
        (None, None),
    ])
    def test_accepted(self, given, seconds):
        assert parse_duration(given) == seconds
        assert timer(given).duration == seconds
        assert Timer(given).duration == seconds

    @pytest.mark.parametrize("given", ["1:00", "00:01:00", "00:1:00:00", "60 minutes", "", "00:00:00:0x",
                                       "-1:00:00:00", "00:00:00:00:00"])
    def test_bad_strings(self, given):
        with pytest.raises(InvalidArgument) as info:
            timer(given)
        assert str(info.value) == f"timer: duration={given!r} is not a valid duration; {ACCEPTED}"

    def test_bad_types(self):
        with pytest.raises(InvalidArgument, match=r"^timer: duration=60 is not a valid duration; expected a string"):
            timer(60)
        with pytest.raises(InvalidArgument) as info:
            Timer(1.5)
        assert str(info.value) == f"Timer: duration=1.5 is not a valid duration; {ACCEPTED}"

    def test_bad_dict(self):
        with pytest.raises(InvalidArgument) as info:
            timer({"hour": 1})
        assert str(info.value) == ("timer: duration={'hour': 1} is not a valid duration "
                                   f"('hour' is an invalid keyword argument for __new__()); {ACCEPTED}")

    def test_negative(self):
        with pytest.raises(InvalidArgument) as info:
            timer({"seconds": -1})
        assert str(info.value) == "timer: duration=datetime.timedelta(days=-1, seconds=86399) must not be negative"

    @pytest.mark.parametrize("interval", ["batch", "STEP", None, 1])
    def test_bad_interval(self, interval):
        with pytest.raises(InvalidArgument) as info:
            timer("00:00:01:00", interval=interval)
        assert str(info.value) == f"timer: interval={interval!r} must be 'step' or 'epoch'"
        with pytest.raises(ValueError, match=r"^Timer: interval="):
            Timer("00:00:01:00", interval=interval)

    @pytest.mark.parametrize("hook, text", [
        (timer("00:00:01:00"), "timer(datetime.timedelta(seconds=60))"),
        (timer({"hours": 1}, interval="epoch"), "timer(datetime.timedelta(seconds=3600), interval='epoch')"),
        (timer(None), "timer(None)"),
    ])
    def test_repr(self, hook, text):
        assert repr(hook) == text
        assert eval(text, {"timer": timer, "datetime": datetime}) == hook


class TestStopping:
    def test_step_interval_stops_at_first_batch_past_budget(self):
        events = run(start=2.0, batch_times=(5.0, 11.0, 12.0, 13.0), epoch_ends=(13.5,))
        assert stop_times(timer({"seconds": 10}), events) == [("train_batch_end", 12.0), ("train_batch_end", 13.0)]

    def test_equal_to_budget_stops(self):
        assert stop_times(timer({"seconds": 10}), run(start=1.0, batch_times=(11.0,))) == [("train_batch_end", 11.0)]

    def test_epoch_interval_checks_only_epoch_ends(self):
        events = run(start=0.0, batch_times=(4.0, 8.0, 12.0), epoch_ends=(12.5,))
        assert stop_times(timer({"seconds": 10}, interval="epoch"), events) == [("train_epoch_end", 12.5)]

    def test_zero_duration_stops_at_fit_start(self):
        events = run(batch_times=(1.0,))
        assert stop_times(timer("00:00:00:00"), events)[0] == ("fit_start", 0.0)

    def test_no_duration_never_stops(self):
        state, effects = fold(timer(None), run(start=1.0, batch_times=(1e9,)))
        assert effects == () and time_elapsed(state) == 1e9 - 1.0 and time_remaining(timer(None), state) is None

    def test_reason(self):
        _, effects = fold(timer({"hours": 1}), run(batch_times=(3725.9,)))
        assert effects == (Stop("Time limit reached. Elapsed time is 1:02:05. Signaling Trainer to stop."),)

    def test_time_before_train_start_does_not_count(self):
        assert fold(timer({"seconds": 10}), run(start=100.0, batch_times=(105.0,)))[1] == ()


class TestStageTimes:
    def test_stages(self):
        events = [Event("fit_start"), Event("validation_start", stage="sanity_check", time=1.0),
                  Event("validation_end", stage="sanity_check", time=2.0), Event("train_start", time=3.0),
                  Event("validation_start", time=10.0), Event("validation_end", time=14.0),
                  Event("train_epoch_end", time=15.0), Event("train_end", time=16.0),
                  Event("test_start", stage="test", time=20.0), Event("test_end", stage="test", time=21.5)]
        state, _ = fold(timer(None), events)
        assert [start_time(state, s) for s in ("train", "validate", "test", "sanity_check", "predict")] == \
            [3.0, 10.0, 20.0, None, None]
        assert [end_time(state, s) for s in ("train", "validate", "test")] == [16.0, 14.0, 21.5]
        assert [time_elapsed(state, s) for s in ("train", "validate", "test", "predict")] == [13.0, 4.0, 1.5, 0.0]

    def test_running_stage_uses_latest_event_or_now(self):
        state, _ = fold(timer(None), run(start=1.0, batch_times=(4.0,)))
        assert time_elapsed(state) == 3.0 and time_elapsed(state, now=10.0) == 9.0

    def test_unknown_stage(self):
        with pytest.raises(InvalidArgument) as info:
            time_elapsed(TimerState(), "training")
        assert str(info.value) == ("timer: stage='training' must be one of 'train', 'sanity_check', 'validate', "
                                   "'test', 'predict'")


class TestResume:
    def test_spent_budget_stops_at_fit_start_of_next_run(self):
        hook = timer({"seconds": 10})
        first, _ = fold(hook, run(start=1.0, batch_times=(5.0, 9.0)))  # 8 s spent
        second = run(start=0.5, batch_times=(1.5, 2.5, 3.5))
        assert stop_times(hook, second) == []
        state = from_data(json.loads(json.dumps(to_data(first))))
        _, effects = fold(hook, second, state)
        assert [e.time for e, (_, out) in zip(second, scan(hook, second, state)) if out] == [2.5, 3.5]
        assert len(effects) == 2

    def test_exhausted_budget_stops_before_training(self):
        hook = timer({"seconds": 10})
        first, _ = fold(hook, run(start=0.0, batch_times=(12.0,)))
        assert stop_times(hook, [Event("fit_start")]) == []
        _, effects = hook.step(first, Event("fit_start", time=0.0))
        assert effects == (Stop("Time limit reached. Elapsed time is 0:00:12. Signaling Trainer to stop."),)


class TestTimerClass:
    def test_attributes(self):
        t = Timer("00:00:01:00", interval="epoch", verbose=False)
        assert (t.duration, t.interval, t.verbose, t.state_key) == (60.0, "epoch", False, "Timer")
        assert repr(t) == "Timer(datetime.timedelta(seconds=60), interval='epoch')"
        assert (Timer().duration, Timer().interval, Timer().verbose) == (None, "step", True)

    def test_methods_follow_the_run(self):
        t = Timer({"seconds": 30})
        fold(t, run(start=2.0, batch_times=(5.0, 12.0)))
        assert (t.time_elapsed(), t.time_remaining(), t.start_time(), t.end_time()) == (10.0, 20.0, 2.0, None)
        assert t.time_elapsed("validate") == 0.0 and t.time_remaining("validate") == 30.0

    def test_state_dict_round_trip(self):
        t = Timer({"seconds": 30})
        fold(t, run(start=2.0, batch_times=(5.0, 12.0)))
        saved = json.loads(json.dumps(t.state_dict()))
        assert saved["time_elapsed"] == {"train": 10.0, "sanity_check": 0.0, "validate": 0.0, "test": 0.0,
                                         "predict": 0.0}
        fresh = Timer({"seconds": 30})
        fresh.load_state_dict(saved)
        assert fresh.state == t.state and fresh.init == t.state
        _, effects = fold(fresh, run(start=0.0, batch_times=(19.0, 20.0)))
        assert len(effects) == 1 and fresh.time_elapsed() == 30.0

    def test_loads_lightning_state_dict(self):
        t = Timer({"seconds": 30})
        t.load_state_dict({"time_elapsed": {"train": 25.0, "validate": 3.0}})
        assert t.time_elapsed() == 25.0 and t.time_elapsed("validate") == 0.0
        _, effects = fold(t, run(start=1.0, batch_times=(5.0, 6.0)))
        assert [type(e) for e in effects] == [Stop]


class TestWithTrainer:
    def test_spent_time_survives_a_checkpoint(self, tmp_path, monkeypatch):
        """Train 1.5 s of a 2 s budget, checkpoint, resume: the run stops after 0.5 s more."""
        torch = pytest.importorskip("torch")
        import time

        import fhooks

        now = [0.0]
        monkeypatch.setattr(time, "monotonic", lambda: now[0])

        class Ticking(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.layer = torch.nn.Linear(1, 1)

            def training_step(self, batch, batch_idx):
                now[0] += 0.25
                return self.layer(batch[0]).pow(2).mean()

            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.01)

        data = [(torch.ones(2, 1),)] * 3
        options = dict(enable_checkpointing=False, enable_progress_bar=False, default_root_dir=tmp_path)
        first_timer = Timer({"seconds": 2})
        first = fhooks.Trainer(callbacks=[first_timer], max_epochs=2, **options)
        first.fit(Ticking(), data)
        assert (first.global_step, first_timer.time_elapsed()) == (6, 1.5)
        path = first.save_checkpoint(tmp_path / "spent.ckpt")
        timer = Timer({"seconds": 2})
        second = fhooks.Trainer(callbacks=[timer], max_epochs=10, **options)
        second.fit(Ticking(), data, ckpt_path=path)
        assert (second.global_step, timer.time_elapsed()) == (8, 2.0)
        assert second.stop_reason == "Time limit reached. Elapsed time is 0:00:02. Signaling Trainer to stop."
