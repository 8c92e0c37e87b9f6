"""The progress hook's laws over generated fit streams: one render per refresh_rate batches, one per stage end;
with a time throttle, updates spaced by min_interval and none stale at a stage boundary."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from fhooks.core import fold
from fhooks.hooks.progress import Render, RichStyle, progress_bar
from fhooks.testing import assert_resumes, fit_streams
from fhooks.testing.resume import resume_split, same

streams = fit_streams(("val_loss",), max_epochs=4, max_batches=9, validation=None, sanity_check=None, exception=True)
rates = st.integers(0, 5)
intervals = st.sampled_from((0.0005, 0.05, 0.5, 5.0, 1e9))  # generated clocks tick by 0.001 to 60 s


def unknown_lengths(events, train, validation):
    """``events`` whose ``RunInfo`` does not know the train and/or validation length: last batches can be held."""
    def forget(info):
        return attrs.evolve(info, num_training_batches=None if train else info.num_training_batches,
                            num_val_batches=None if validation else info.num_val_batches)

    return [attrs.evolve(e, data=forget(e.data)) if e.kind in ("setup", "fit_start") else e for e in events]


#: Streams at every event the same time (every update after the first of a run ties with the last drawn one).
tied = fit_streams(("val_loss",), max_epochs=4, max_batches=9, validation=None, sanity_check=None, exception=True,
                   time=False)
#: Streams with known lengths, or with the train and/or validation length unknown; clocks that tick or stand still.
any_lengths = st.builds(unknown_lengths, streams | tied, st.booleans(), st.booleans())


def emitted(hook, events):
    """(index of the event, render) for every render the hook emits, event by event (those it hears)."""
    state, out = hook.init, []
    for i, event in enumerate(events):
        if event.kind not in hook.kinds:
            continue
        state, effects = hook.step(state, event)
        out += [(i, r) for r in effects]
    return out


def segments(events):
    """(bar, number of batches, total) for every stretch a bar is open, read off the stream itself."""
    info = next(e.data for e in events if e.kind == "fit_start")
    out, bar, n = [], None, 0
    for e in events:
        if e.kind in ("train_epoch_start", "validation_start"):
            bar = "train" if e.kind == "train_epoch_start" else ("sanity" if e.stage == "sanity_check" else "validation")
            total = info.num_training_batches if bar == "train" else (info.num_val_batches if bar == "validation" else None)
            out.append([bar, 0, total])
        elif e.kind.endswith("_batch_end"):
            out[-1][1] += 1
        if e.kind == "validation_end":
            bar = "train"
    return out


@given(streams, rates)
def test_one_render_per_refresh_rate_batches_plus_one_per_stage_end(events, rate):
    effects = fold(progress_bar(rate, min_interval=0), events)[1]
    if rate == 0:
        assert effects == ()
        return
    crashed = events[-1].kind == "exception"
    for bar in ("train", "validation", "sanity"):
        mine = [r for r in effects if r.bar == bar]
        starts = [r for r in mine if r.action == "start"]
        closes = [r for r in mine if r.action == "close"]
        updates = [r for r in mine if r.action == "update"]
        opened = [s for s in segments(events) if s[0] == bar]
        assert len(starts) == len(opened)
        assert len(closes) == len(opened) - (crashed and bool(opened) and _open_at_crash(events, bar))
        expected = sum(sum(1 for n in range(1, count + 1) if n % rate == 0 or n == total)
                       for _, count, total in opened)
        assert len(updates) == expected
    assert [r.action for r in effects if r.bar == "all"] == ([] if crashed else ["close"])  # tqdm: no exception


@given(streams)
def test_rich_bars_finish_on_a_crash(events):
    effects = fold(progress_bar(style=RichStyle()), events)[1]
    assert [r.action for r in effects if r.bar == "all"] == ["close"]
    assert effects[-1] == Render("all", "close", style=RichStyle())


def _open_at_crash(events, bar):
    starts = {"train": ("train_epoch_start",), "validation": ("validation_start",), "sanity": ("validation_start",)}
    ends = {"train": ("train_epoch_end",), "validation": ("validation_end",), "sanity": ("validation_end",)}
    state = False
    for e in events:
        right = (e.stage == "sanity_check") == (bar == "sanity")
        if e.kind in starts[bar] and (bar == "train" or right):
            state = True
        elif e.kind in ends[bar] and (bar == "train" or right):
            state = False
    return state


@given(fit_streams(("val_loss",), max_epochs=3, max_batches=6, validation=None, sanity_check=None), rates,
       st.just(0.0) | intervals)
def test_close_carries_the_true_count(events, rate, interval):
    closes = [r for r in fold(progress_bar(max(rate, 1), min_interval=interval), events)[1] if r.action == "close"]
    for bar in ("train", "validation", "sanity"):
        assert [r.count for r in closes if r.bar == bar] == [n for b, n, _ in segments(events) if b == bar]


@given(any_lengths, rates, intervals)
def test_updates_at_batch_ends_are_min_interval_apart_or_the_last_batch(events, rate, interval):
    last = None
    for i, render in emitted(progress_bar(rate, min_interval=interval), events):
        event = events[i]
        if render.action != "update" or not event.kind.endswith("_batch_end"):
            continue
        if render.count != render.total:
            assert last is None or event.time - last >= interval
        last = event.time


@given(any_lengths, rates, intervals)
def test_updates_only_while_their_bar_is_open(events, rate, interval):
    open_bars = set()
    for _, render in emitted(progress_bar(rate, min_interval=interval), events):
        if render.action == "start":
            open_bars.add(render.bar)
        elif render.action == "close":
            open_bars = set() if render.bar == "all" else open_bars - {render.bar}
        else:
            assert render.bar in open_bars


@given(any_lengths, rates, intervals, st.booleans())
def test_no_bar_is_stale_at_a_boundary(events, rate, interval, rich):
    """At each start or close, every other bar shows the update it would show without the throttle (held updates
    come first; the bar's own is not drawn: its close carries the true count, its start resets it), and the start
    and close renders themselves are those of the unthrottled hook."""
    style = RichStyle() if rich else None
    throttled = emitted(progress_bar(rate, style=style, min_interval=interval), events)
    every = emitted(progress_bar(rate, style=style, min_interval=0), events)
    assert [(i, r) for i, r in throttled if r.action != "update"] == [(i, r) for i, r in every if r.action != "update"]
    boundaries = {i: r.bar for i, r in throttled if r.action != "update"}
    assert not [r for i, r in throttled if r.action == "update" and boundaries.get(i) == r.bar]
    unthrottled = [(i, "unthrottled", r) for i, r in every if r.action == "update"]
    shown, expected = {}, {}
    for _, source, render in sorted([(i, "throttled", r) for i, r in throttled] + unthrottled, key=lambda x: x[0]):
        if source == "unthrottled":
            expected[render.bar] = render
        elif render.action == "update":
            shown[render.bar] = render
        else:
            assert {bar: shown.get(bar) for bar in expected if bar != render.bar} == {
                bar: update for bar, update in expected.items() if bar != render.bar}
            for bar in list(expected) if render.bar == "all" else [render.bar]:
                shown.pop(bar, None), expected.pop(bar, None)


@given(streams, rates, st.data())
def test_resume_law(events, rate, data):
    assert_resumes(progress_bar(rate, min_interval=0), events, data.draw(st.integers(0, len(events))))


@given(any_lengths, rates, intervals, st.data())
def test_a_resumed_run_keeps_the_state_and_every_start_and_close(events, rate, interval, data):
    """The throttle's clock and held updates are not checkpointed: a resumed run may draw updates at other
    batches (its first one at once), never other counts at a start or close."""
    hook = progress_bar(rate, min_interval=interval)
    expected_state, expected = fold(hook, events)
    got_state, got = resume_split(hook, events, data.draw(st.integers(0, len(events))))
    assert same(got_state, expected_state)
    assert same([r for r in got if r.action != "update"], [r for r in expected if r.action != "update"])  # NaN metrics
