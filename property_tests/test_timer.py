"""Property tests for ``timer``: it stops at the first check whose train time reaches the duration.

Event times are rounded to whole seconds so that "reaches" (equality) happens often.
"""

from __future__ import annotations

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from fhooks.callbacks import Timer
from fhooks.core import Event, Stop, fold, scan
from fhooks.hooks import timer
from fhooks.hooks.timer import time_elapsed
from fhooks.testing import assert_resumes, fit_streams, roundtrip

SETTINGS = settings(max_examples=150, deadline=None)


@st.composite
def timed_streams(draw, **kwargs):
    """Fit streams whose times are whole seconds (ties between neighbours allowed), from a random scale."""
    events = draw(fit_streams(**kwargs))
    scale = draw(st.sampled_from((0.5, 1.0, 7.0, 40.0)))
    return [attrs.evolve(e, time=float(round(e.time * scale))) for e in events]


def checks(interval):
    return {"fit_start", "train_batch_end" if interval == "step" else "train_epoch_end"}


def reference_stops(events, duration, interval, spent=0.0):
    """Indices of the check events at which train time (plus ``spent``) is at least ``duration``."""
    start, out = None, []
    for i, e in enumerate(events):
        if e.kind == "train_start":
            start = e.time
        if e.kind in checks(interval):
            elapsed = spent + (0.0 if start is None else e.time - start)
            if elapsed >= duration:
                out.append(i)
    return out


def stop_indices(hook, events, state=None):
    steps = scan(hook, events) if state is None else scan(hook, events, state)
    return [i for i, (_, out) in enumerate(steps) if any(type(x) is Stop for x in out)]


intervals = st.sampled_from(("step", "epoch"))
durations = st.integers(0, 600)


@SETTINGS
@given(timed_streams(max_epochs=6), durations, intervals)
def test_stops_at_each_check_past_the_duration(events, seconds, interval):
    hook = timer({"seconds": seconds}, interval=interval)
    assert stop_indices(hook, events) == reference_stops(events, seconds, interval)


@SETTINGS
@given(timed_streams(max_epochs=6), durations, intervals)
def test_first_stop_is_the_first_event_reaching_the_duration(events, seconds, interval):
    hook = timer({"seconds": seconds}, interval=interval)
    start = next(e.time for e in events if e.kind == "train_start")
    first = next((i for i, e in enumerate(events) if e.kind in checks(interval)
                  and (e.kind == "fit_start" and seconds == 0 or e.kind != "fit_start" and e.time - start >= seconds)),
                 None)
    stops = stop_indices(hook, events)
    assert (stops[0] if stops else None) == first
    assert all(events[i].kind in checks(interval) for i in stops)


@SETTINGS
@given(timed_streams(max_epochs=5), timed_streams(max_epochs=5), durations, intervals)
def test_spent_time_carries_into_the_next_run(first, second, seconds, interval):
    hook = timer({"seconds": seconds}, interval=interval)
    state, _ = fold(hook, first)
    spent = time_elapsed(state)
    times = {e.kind: e.time for e in first}
    assert spent == times["train_end"] - times["train_start"]
    assert stop_indices(hook, second, roundtrip(state)) == reference_stops(second, seconds, interval, spent)


@SETTINGS
@given(timed_streams(max_epochs=5))
def test_train_time_is_train_end_minus_train_start(events):
    state, _ = fold(timer(None), events)
    start = next(e.time for e in events if e.kind == "train_start")
    end = next(e.time for e in events if e.kind == "train_end")
    assert time_elapsed(state) == end - start
    validations = [e for e in events if e.kind in ("validation_start", "validation_end")]
    if validations:
        assert time_elapsed(state, "validate") == validations[-1].time - validations[-2].time


@settings(max_examples=60, deadline=None)
@given(timed_streams(max_epochs=4, max_batches=3, sanity_check=None, exception=True), durations, intervals)
def test_resume_law_at_every_split(events, seconds, interval):
    hook = timer({"seconds": seconds}, interval=interval)
    for at in range(len(events) + 1):
        assert_resumes(hook, events, at)


@SETTINGS
@given(timed_streams(max_epochs=4), durations, intervals)
def test_class_decides_as_the_hook(events, seconds, interval):
    t = Timer({"seconds": seconds}, interval=interval)
    state, effects = fold(timer({"seconds": seconds}, interval=interval), events)
    assert fold(t, events) == (state, effects)
    assert t.time_elapsed() == time_elapsed(state)
    assert t.time_remaining() == seconds - time_elapsed(state)


@SETTINGS
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=20), st.floats(0, 1e6))
def test_any_clock_values(times, seconds):
    """Arbitrary (unsorted) clocks: a check stops exactly when its own elapsed time reaches the budget."""
    hook = timer({"seconds": seconds})
    state, _ = hook.step(hook.init, Event("train_start", time=times[0]))
    for t in times:
        state, effects = hook.step(state, Event("train_batch_end", time=t))
        assert bool(effects) == (t - times[0] >= hook.duration)
