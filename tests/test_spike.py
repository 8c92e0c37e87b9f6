"""SpikeDetection / spike_detection: examples of Lightning's rule, effects, errors, state."""

from __future__ import annotations

import json
import math
import pickle
import types

import pytest

from fhooks.callbacks import SpikeDetection, TrainingSpikeException
from fhooks.core import Event, Raise, fold, sequence
from fhooks.core.events import BatchData
from fhooks.errors import FhooksError, InvalidArgument, MissingMetric
from fhooks.hooks import SpikeState, WriteJson, spike_detection

NAN, INF = math.nan, math.inf


def batches(losses, epoch=0, start=0):
    return [Event("train_batch_end", epoch=epoch, batch_idx=start + i, metrics={"loss": x})
            for i, x in enumerate(losses)]


def spikes(hook, losses):
    """Batch indices where ``hook`` raised."""
    _, effects = fold(hook, batches(losses))
    return [e.error.batch_idx for e in effects if isinstance(e, Raise)]


class TestRule:
    @pytest.mark.parametrize(("losses", "expected"), [
        ([1.0, 3.0], [1]),          # 3 x the mean: |3 - 1| >= 2 * 1
        ([1.0, 2.9], []),
        ([1.0, 0.5, 100.0], [2]),
        ([1.0, 1.0, 1.0, 1.0], []),   # ties are "better" (diff <= 0)
        ([2.0, 1.0, 1.5], []),        # worse than the last, but close to the mean
    ])
    def test_default_rtol(self, losses, expected):
        assert spikes(spike_detection(), losses) == expected

    def test_tolerance_is_direction_agnostic(self):
        # mean 8.2, last 1.0: 2.0 is worse than the last value and far *below* the mean
        assert spikes(spike_detection(warmup=2, rtol=0.5), [15.4, 1.0, 2.0]) == [2]

    def test_better_than_last_value_short_circuits(self):
        assert spikes(spike_detection(warmup=2, rtol=0.1), [1.0, 50.0, 40.0]) == []

    def test_both_tolerances_must_hold(self):
        assert spikes(spike_detection(atol=5.0), [1.0, 4.0]) == []       # rtol holds, atol does not
        assert spikes(spike_detection(atol=5.0), [1.0, 7.0]) == [1]
        assert spikes(spike_detection(atol=0.5, rtol=None), [1.0, 1.5]) == [1]
        assert spikes(spike_detection(atol=0.5, rtol=None), [1.0, 1.4]) == []
        assert spikes(spike_detection(atol=None, rtol=None), [1.0, 1.0001]) == [1]

    def test_mode_max(self):
        assert spikes(spike_detection(mode="max"), [3.0, 0.5]) == []        # |0.5 - 3| < 6
        assert spikes(spike_detection(mode="max", rtol=0.5), [3.0, 0.5]) == [1]
        assert spikes(spike_detection(mode="max", rtol=0.5), [3.0, 30.0]) == []

    def test_warmup_uses_the_batch_index_of_each_epoch(self):
        h = spike_detection(warmup=2)
        events = batches([1.0, 1.0, 1.0]) + batches([50.0, 1.0], epoch=1)
        assert [e.error.batch_idx for e in fold(h, events)[1] if isinstance(e, Raise)] == []
        assert spikes(h, [1.0, 50.0, 100.0]) == [2]

    def test_window_is_the_last_n_accepted_losses(self):
        h = spike_detection(window=2, warmup=3)
        state, _ = fold(h, batches([100.0, 1.0, 1.0]))
        assert state.window == (1.0, 1.0)
        assert spikes(h, [100.0, 1.0, 1.0, 3.0]) == [3]

    def test_first_loss_is_compared_with_zero_and_an_empty_mean(self):
        # last_val starts at 0.0 and the mean of nothing is NaN: no tolerance holds
        assert spikes(spike_detection(warmup=0), [5.0]) == []
        assert spikes(spike_detection(warmup=0, rtol=None), [5.0]) == [0]


class TestNonFinite:
    @pytest.mark.parametrize("bad", [NAN, INF, -INF])
    def test_finite_only_makes_any_non_finite_loss_a_spike(self, bad):
        assert spikes(spike_detection(), [1.0, bad]) == [1]

    def test_non_finite_loss_in_warmup_is_accepted(self):
        state, effects = fold(spike_detection(warmup=2), batches([1.0, NAN]))
        assert effects == () and math.isnan(state.last_val) and state.window[0] == 1.0 and math.isnan(state.window[1])
        state, _ = fold(spike_detection(warmup=2), batches([1.0, INF]))
        assert state.window == (1.0, INF)

    def test_not_finite_only(self):
        h = spike_detection(finite_only=False)
        assert spikes(h, [1.0, INF]) == [1]        # worse, and |inf - 1| >= 2
        assert spikes(h, [1.0, -INF, NAN, 3.0]) == [3]
        state, _ = fold(h, batches([1.0, -INF, NAN]))
        assert state == SpikeState(1.0, (1.0,), ())  # neither was accepted


class TestEffects:
    def test_spike_writes_the_bad_batches_then_raises(self):
        h = spike_detection()
        state, effects = fold(h, batches([1.0, 1.0, 9.0, 1.0, 9.0]))
        assert state.bad_batches == (1, 2, 3, 4)
        assert effects == (
            WriteJson("skip_batches.json", (1, 2), in_root_dir=True), Raise(TrainingSpikeException(2)),
            WriteJson("skip_batches.json", (1, 2, 3, 4), in_root_dir=True), Raise(TrainingSpikeException(4)),
        )

    @pytest.mark.parametrize(("given", "path", "in_root"), [
        (None, "skip_batches.json", True),
        ("runs/bad.json", "runs/bad.json", False),
        ("runs", "runs/skip_batches.json", False),
        ("/tmp/x/", "/tmp/x/skip_batches.json", False),
    ])
    def test_paths(self, given, path, in_root):
        _, effects = fold(spike_detection(exclude_batches_path=given), batches([1.0, 9.0]))
        assert effects[0] == WriteJson(path, (0, 1), in_root)

    def test_the_exception(self):
        error = TrainingSpikeException(5)
        assert isinstance(error, FhooksError) and isinstance(error, RuntimeError)
        assert str(error) == "Training spike detected in batch 5" and error.batch_idx == 5
        again = pickle.loads(pickle.dumps(error))
        assert again.batch_idx == 5 and str(again) == str(error)

    def test_loss_from_outputs_when_not_in_metrics(self):
        event = Event("train_batch_end", batch_idx=1, data=BatchData(0, {"loss": 9.0}))
        _, effects = fold(spike_detection(), batches([1.0]) + [event])
        assert effects[1] == Raise(TrainingSpikeException(1))

    def test_missing_loss(self):
        with pytest.raises(MissingMetric) as info:
            fold(spike_detection(), [Event("train_batch_end", metrics={"acc": 1.0})])
        assert str(info.value) == (
            "spike_detection: metric 'loss' is not in the metrics of train_batch_end (have: acc); "
            "training_step must return a loss")
        assert isinstance(info.value, KeyError)

    def test_write_json_handler(self, tmp_path):
        from fhooks.trainer.files import write_json_atomic
        from fhooks.interpret import Context, interpret

        trainer = types.SimpleNamespace(default_root_dir=tmp_path / "root")
        interpret(WriteJson("skip_batches.json", (1, 2), True), Context(trainer, None, Event("train_batch_end")))
        assert json.loads((tmp_path / "root" / "skip_batches.json").read_text()) == [1, 2]
        interpret(WriteJson(str(tmp_path / "a" / "b.json"), (3, 4)), Context(trainer, None, Event("fit_end")))
        assert (tmp_path / "a" / "b.json").read_text() == "[\n    3,\n    4\n]"
        write_json_atomic(tmp_path / "a" / "b.json", [5])
        assert json.loads((tmp_path / "a" / "b.json").read_text()) == [5]
        assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b.json"]  # no temporary file left


class TestErrors:
    @pytest.mark.parametrize(("kwargs", "message"), [
        (dict(mode="mn"), "mode='mn' must be 'min' or 'max'"),
        (dict(window=0), "window=0 must be an int >= 1"),
        (dict(window=2.0), "window=2.0 must be an int >= 1"),
        (dict(warmup=-1), "warmup=-1 must be an int >= 0"),
        (dict(atol="1"), "atol='1' must be None or a number"),
        (dict(rtol=NAN), "rtol=nan must be None or a number"),
        (dict(exclude_batches_path=3), "exclude_batches_path=3 must be None or a str path"),
    ])
    def test_messages(self, kwargs, message):
        with pytest.raises(InvalidArgument) as info:
            spike_detection(**kwargs)
        assert str(info.value) == f"spike_detection: {message}"
        with pytest.raises(InvalidArgument) as info:
            SpikeDetection(**kwargs)
        assert str(info.value) == f"SpikeDetection: {message}"


class TestClass:
    def test_attributes_and_repr(self):
        cb = SpikeDetection(mode="max", window=4, atol=0.5)
        assert repr(cb) == "SpikeDetection(mode='max', window=4, atol=0.5)"
        assert repr(SpikeDetection()) == "SpikeDetection()"
        assert (cb.mode, cb.window, cb.warmup, cb.atol, cb.rtol, cb.finite_only, cb.exclude_batches_path) == (
            "max", 4, 1, 0.5, 2.0, True, None)
        assert math.isnan(cb.running_mean) and cb.last_val == 0.0 and cb.bad_batches == []
        fold(cb, batches([2.0, 4.0]))
        assert cb.running_mean == 3.0 and cb.last_val == 4.0

    def test_load_state_dict_resumes_exactly(self):
        losses = [1.0, 1.2, 0.9, 5.0, 1.1, 1.0, 6.0, 0.8]
        whole = SpikeDetection(window=3)
        _, expected = fold(whole, batches(losses))
        first = SpikeDetection(window=3)
        fold(first, batches(losses[:4]))
        saved = json.loads(json.dumps(first.state_dict()))
        second = SpikeDetection(window=3)
        second.load_state_dict(saved)
        _, rest = fold(second, batches(losses[4:], start=4))
        _, head = fold(SpikeDetection(window=3), batches(losses[:4]))
        assert head + rest == expected
        assert second.bad_batches == whole.bad_batches == [2, 3, 5, 6]

    def test_composes(self):
        h = sequence(spike_detection(rtol=None, atol=10.0), SpikeDetection(window=2))
        _, effects = fold(h, batches([1.0, 5.0]))
        assert [type(e).__name__ for e in effects] == ["WriteJson", "Raise"]
        assert effects[0].in_root_dir
