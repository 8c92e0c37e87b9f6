"""spike_detection against a naive reference of Lightning's rule, over loss streams with ties, NaN and inf."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from fhooks.callbacks import TrainingSpikeException
from fhooks.core import Event, Raise, fold, map_event
from fhooks.core.events import BatchData
from fhooks.hooks import WriteJson, spike_detection
from fhooks.testing import fit_streams, metric_values, resume_split, roundtrip, same

configs = st.fixed_dictionaries({
    "mode": st.sampled_from(["min", "max"]),
    "window": st.integers(1, 5),
    "warmup": st.integers(0, 3),
    "atol": st.sampled_from([None, 0.0, 0.5, -1.0, 2.0]),
    "rtol": st.sampled_from([None, 2.0, 0.5, 0.0, -1.0]),
    "finite_only": st.booleans(),
})
losses = metric_values(min_value=-10.0, max_value=10.0)
streams = fit_streams(max_epochs=4, max_batches=6, validation=False, values=losses)


class NaiveSpikeDetection:
    """Lightning's callback restated with mutable lists, the way its source reads."""

    def __init__(self, mode, window, warmup, atol, rtol, finite_only):
        self.mode, self.size, self.warmup = mode, window, warmup
        self.atol, self.rtol, self.finite_only = atol, rtol, finite_only
        self.accepted: list[float] = []   # every loss ever accepted, NaN included (it holds a window slot)
        self.last = 0.0
        self.bad: list[int] = []

    def mean(self) -> float:
        recent = self.accepted[-self.size:]
        numbers = [x for x in recent if not math.isnan(x)]
        if not numbers:
            return math.nan
        total = 0.0
        for x in numbers:
            total += x
        return total / len(numbers)

    def spike(self, loss: float) -> bool:
        mean = self.mean()
        if self.finite_only and (math.isnan(loss) or math.isinf(loss)):
            return True
        diff = loss - self.last
        better = diff <= 0 if self.mode == "min" else diff >= 0
        if better:
            return False
        atol_ok = True if self.atol is None else abs(loss - mean) >= abs(self.atol)
        rtol_ok = True if self.rtol is None else abs(loss - mean) >= abs(self.rtol * mean)
        return atol_ok and rtol_ok

    def batch(self, batch_idx: int, loss: float) -> bool:
        if batch_idx >= self.warmup and self.spike(loss):
            self.bad += [batch_idx - 1, batch_idx]
            return True
        if self.finite_only or math.isfinite(loss):
            self.accepted.append(loss)
            self.last = loss
        return False


def assert_resumes(hook, events, at):
    """The resume law at ``at``; effects compare with ``==`` (``fhooks.testing.same`` compares a ``Raise``'s
    exception by identity, so it cannot be used for effects that raise)."""
    state, _ = fold(hook, events[:at])
    assert same(roundtrip(state), state)
    expected_state, expected = fold(hook, events)
    got_state, got = resume_split(hook, events, at)
    assert got == expected, f"resume at {at}: {got!r} != {expected!r}"
    assert same(got_state, expected_state)


def batch_ends(events):
    return [e for e in events if e.kind == "train_batch_end"]


class TestAgainstReference:
    @given(configs, streams)
    def test_same_decisions_and_bad_batches(self, config, events):
        naive = NaiveSpikeDetection(**config)
        expected = []
        for e in batch_ends(events):
            if naive.batch(e.batch_idx, e.metrics["loss"]):
                expected += [WriteJson("skip_batches.json", tuple(naive.bad), True),
                             Raise(TrainingSpikeException(e.batch_idx))]
        state, effects = fold(spike_detection(**config), events)
        assert effects == tuple(expected)
        assert list(state.bad_batches) == naive.bad
        assert same(state.last_val, naive.last)
        assert same(state.window, tuple(naive.accepted[-config["window"]:]))

    @given(configs, st.lists(st.sampled_from([0.0, 1.0, 1.0, 2.0, 3.0, -1.0, math.nan, math.inf, -math.inf]),
                             max_size=30))
    def test_tie_heavy_streams(self, config, values):
        events = [Event("train_batch_end", batch_idx=i, metrics={"loss": x}) for i, x in enumerate(values)]
        naive = NaiveSpikeDetection(**config)
        expected = [i for i, x in enumerate(values) if naive.batch(i, x)]
        _, effects = fold(spike_detection(**config), events)
        assert [e.error.batch_idx for e in effects if isinstance(e, Raise)] == expected


def negate(event: Event) -> Event:
    loss = -event.metrics["loss"]
    return Event(event.kind, event.stage, event.epoch, event.step, event.batch_idx, event.time, {"loss": loss},
                 BatchData(event.batch_idx, {"loss": loss}))


class TestLaws:
    @given(configs.filter(lambda c: c["mode"] == "min"), streams)
    def test_max_on_x_decides_as_min_on_minus_x(self, config, events):
        _, on_x = fold(spike_detection(**{**config, "mode": "max"}), events)
        _, on_minus_x = fold(map_event(negate, spike_detection(**config)), events)
        assert on_x == on_minus_x

    @given(configs, streams)
    def test_spikes_only_after_warmup_and_bad_batches_come_in_pairs(self, config, events):
        state, effects = fold(spike_detection(**config), events)
        raised = [e.error.batch_idx for e in effects if isinstance(e, Raise)]
        assert all(i >= config["warmup"] for i in raised)
        assert list(state.bad_batches) == [j for i in raised for j in (i - 1, i)]

    @settings(max_examples=50)
    @given(configs, fit_streams(max_epochs=3, max_batches=5, validation=False, values=losses))
    def test_resume_law_at_every_split(self, config, events):
        hook = spike_detection(**config)
        for at in range(len(events) + 1):
            assert_resumes(hook, events, at)
