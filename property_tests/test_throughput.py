"""Property tests for Throughput and throughput_monitor: the window's figures equal a direct computation.

The reference recomputes every figure from the full list of updates (or event
times and batch sizes), independently of the window the hook keeps.
"""

from __future__ import annotations

import math

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from fhooks.core import Event, Log, Raise, fold
from fhooks.core.events import BatchData
from fhooks.errors import InvalidArgument
from fhooks.hooks.throughput import Throughput, throughput_monitor
from fhooks.testing import assert_resumes, fit_streams

SETTINGS = settings(max_examples=150, deadline=None)

# Time steps with ties (0.0), NaN and infinities mixed among ordinary positive steps.
time_steps = st.one_of(st.floats(0.001, 100.0), st.sampled_from([0.0, float("nan"), float("inf"), -1.0]))


@st.composite
def update_streams(draw):
    n = draw(st.integers(1, 25))
    with_lengths, with_flops = draw(st.booleans()), draw(st.booleans())
    t, b, s, n_items, items = 0.0, 0, 0, 0, []
    for _ in range(n):
        t += draw(time_steps)
        b += 1
        s += draw(st.integers(1, 5))
        n_items += draw(st.integers(5, 9))
        items.append(dict(time=t, batches=b, samples=s, lengths=n_items if with_lengths else None,
                          flops=draw(st.integers(0, 1000)) if with_flops else None))
    return items


def reference(items, window, world, available):
    """Every figure of ``compute`` after ``items``, straight from the list."""
    last, out = items[-1], {}
    out.update(time=last["time"], batches=last["batches"], samples=last["samples"])
    if last["lengths"] is not None:
        out["lengths"] = last["lengths"]
    if len(items) < window:
        return out
    first, seen = items[-window], items[-window:]
    elapsed = last["time"] - first["time"]
    out["device/batches_per_sec"] = (last["batches"] - first["batches"]) / elapsed
    out["device/samples_per_sec"] = (last["samples"] - first["samples"]) / elapsed
    if world > 1:
        out["batches_per_sec"] = out["device/batches_per_sec"] * world
        out["samples_per_sec"] = out["device/samples_per_sec"] * world
    if last["lengths"] is not None:
        out["device/items_per_sec"] = (last["lengths"] - first["lengths"]) / elapsed
        if world > 1:
            out["items_per_sec"] = out["device/items_per_sec"] * world
    if last["flops"] is not None:
        total = sum(i["flops"] * world for i in seen) - first["flops"] * world
        if world > 1:
            out["flops_per_sec"] = total / elapsed
        out["device/flops_per_sec"] = total / elapsed / world
        if available:
            out["device/mfu"] = total / elapsed / world / available
    return out


def well_formed(items):
    times = [i["time"] for i in items]
    return all(math.isfinite(t) for t in times) and all(b > a for a, b in zip(times, times[1:]))


@SETTINGS
@given(update_streams(), st.integers(2, 6), st.integers(1, 4), st.sampled_from([None, 0.0, 1e3]))
def test_window_figures_equal_the_direct_computation(items, window, world, available):
    tp = Throughput(available_flops=available or None, world_size=world, window_size=window)
    state, done = tp.init, []
    for item in items:
        try:
            state = tp.update(state, **item)
        except InvalidArgument as error:
            assert not well_formed([*done, item]), f"rejected a well-formed update: {error}"
            return
        done.append(item)
        got, expected = tp.compute(state), reference(done, window, world, available)
        assert got.keys() == expected.keys()
        for key in got:
            assert math.isclose(got[key], expected[key], rel_tol=1e-9, abs_tol=1e-12), key
    assert well_formed(done)


def first_dim(batch):
    return batch + 1


def twice(batch):
    return 2 * (batch + 1)


@attrs.frozen
class Run:
    log_every_n_steps: int = 1
    world_size: int = 1


def with_every(events, every):
    return [attrs.evolve(e, data=Run(every)) if e.kind == "setup" else e for e in events]


def train_reference(events, window, every):
    """The train logs, from event times: time excludes each validation (last train update -> validation_end)."""
    out, updates, start, paused, last, step_before, samples, items = [], [], None, 0.0, None, 0, 0, 0
    for e in events:
        if e.kind == "train_start":
            start, last = e.time, e.time
        elif e.kind == "train_batch_start":
            step_before = e.step
        elif e.kind == "validation_end" and e.stage == "fit":
            paused += e.time - last
            last = e.time
        elif e.kind == "train_batch_end":
            samples += first_dim(e.data.batch)
            items += twice(e.data.batch)
            updates.append(dict(time=e.time - start - paused, batches=len(updates) + 1, samples=samples,
                                lengths=items, flops=None))
            last = e.time
            if every and e.step > step_before and e.step % every == 0:
                out.append((e.step, reference(updates, window, 1, None)))
    return out


@SETTINGS
@given(fit_streams(max_epochs=4, max_batches=5, sanity_check=None), st.integers(2, 5), st.sampled_from([0, 1, 2, 3]))
def test_monitor_logs_equal_the_direct_computation(events, window, every):
    events = with_every(events, every)
    _, effects = fold(throughput_monitor(first_dim, twice, window_size=window), events)
    assert not [e for e in effects if isinstance(e, Raise)]
    got = [(e.step, {k[len("train/"):]: v for k, v in e.metrics.items() if k.startswith("train/")})
           for e in effects if isinstance(e, Log) and "train/time" in e.metrics]
    expected = train_reference(events, window, every)
    assert [s for s, _ in got] == [s for s, _ in expected]
    for (_, a), (_, b) in zip(got, expected):
        assert a.keys() == b.keys()
        assert all(math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-9) for k in a)
    due, count = [], 0
    for e in events:
        if e.stage == "fit" and e.kind == "validation_start":
            count = 0
        elif e.stage == "fit" and e.kind == "validation_batch_end":
            count += 1
            due.append(bool(every) and count % every == 0)
    logged = [e.step for e in effects if isinstance(e, Log) and "validate/batches" in e.metrics]
    assert logged == [i + 1 for i, d in enumerate(due) if d]  # step = validation batches so far in the fit


@SETTINGS
@given(fit_streams(max_epochs=3, max_batches=4, sanity_check=None), st.integers(2, 4), st.data())
def test_resume_law(events, window, data):
    events = with_every(events, data.draw(st.sampled_from([1, 2])))
    at = data.draw(st.integers(0, len(events)))
    assert_resumes(throughput_monitor(first_dim, twice, window_size=window, flops_per_batch=7.0,
                                      available_flops=100.0), events, at)


@SETTINGS
@given(st.lists(st.sampled_from([0.5, 0.0, float("nan"), float("inf")]), min_size=2, max_size=8))
def test_clocks_that_stop_or_break_raise_instead_of_logging(steps):
    times, t = [], 1.0
    for step in steps:
        t += step
        times.append(t)
    events = [Event("setup", data=Run()), Event("train_start")]
    for i, t in enumerate(times):
        events += [Event("train_batch_start", step=i, batch_idx=i), Event("train_batch_end", step=i + 1, batch_idx=i,
                                                                          time=t, data=BatchData(i))]
    _, effects = fold(throughput_monitor(first_dim), events)
    raised = [e for e in effects if isinstance(e, Raise)]
    good = well_formed([{"time": t} for t in times])
    assert bool(raised) != good
    if good:
        assert len(effects) == len(times)

