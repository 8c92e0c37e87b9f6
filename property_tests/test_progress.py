"""The progress hook's laws over generated fit streams: one render per refresh_rate batches, one per stage end."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fhooks.core import fold
from fhooks.hooks.progress import Render, RichStyle, progress_bar
from fhooks.testing import assert_resumes, fit_streams

streams = fit_streams(("val_loss",), max_epochs=4, max_batches=9, validation=None, sanity_check=None, exception=True)
rates = st.integers(0, 5)


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
    effects = fold(progress_bar(rate), events)[1]
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


@given(fit_streams(("val_loss",), max_epochs=3, max_batches=6, validation=None, sanity_check=None), rates)
def test_close_carries_the_true_count(events, rate):
    closes = [r for r in fold(progress_bar(max(rate, 1)), events)[1] if r.action == "close"]
    for bar in ("train", "validation", "sanity"):
        assert [r.count for r in closes if r.bar == bar] == [n for b, n, _ in segments(events) if b == bar]


@given(streams, rates, st.data())
def test_resume_law(events, rate, data):
    assert_resumes(progress_bar(rate), events, data.draw(st.integers(0, len(events))))
