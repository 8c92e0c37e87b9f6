"""Property tests for the pure learning-rate range test (``fhooks.hooks.lr_finder``).

Laws: the learning rates start at ``min_lr``, never decrease and end at ``max_lr``
unless the test stops early; the smoothing and the divergence stop follow
Lightning's formulas (a reference written here); the suggestion is the index of the
steepest descent of the smoothed losses (numpy's gradient as the reference); the
hook asks for one test per fit and the resume law holds for the hook and the test.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fhooks.core import fold, scan
from fhooks.hooks.lr_finder import FindLearningRate, RangeTest, lr_finder, range_test_lr, suggestion
from fhooks.testing import assert_resumes, fit_streams, roundtrip, same

SETTINGS = settings(max_examples=150, deadline=None)

modes = st.sampled_from(("exponential", "linear"))
exponents = st.floats(-9.0, 1.0)


@st.composite
def ranges(draw):
    """``(min_lr, max_lr, n, mode)`` with ``0 < min_lr < max_lr``, ratios from barely above 1 to 1e10."""
    low = 10 ** draw(exponents)
    ratio = draw(st.one_of(st.floats(1.0000001, 2.0), st.floats(2.0, 1e10)))
    high = low * ratio
    if not low < high:
        high = math.nextafter(low, math.inf)
    return low, high, draw(st.integers(1, 300)), draw(modes)


#: Raw losses with ties, NaN and ±inf among ordinary values.
raw_losses = st.one_of(
    st.sampled_from((0.0, 1.0, 1.0, 2.5, math.nan, math.inf, -math.inf)),
    st.floats(-1e3, 1e3, allow_nan=False),
)


def reference_test(losses, n, threshold, beta=0.98):
    """Lightning's ``_LRCallback``, transcribed: smoothed points and whether it stopped (None loss -> NaN point).

    One deliberate difference: Lightning's best loss starts at 0.0 and is set at step 1, so a step 1
    without a loss makes step 2 "diverge"; here the best starts at the first step with a loss.
    """
    avg, best, out = 0.0, None, []
    for i, loss in enumerate(losses[:n]):
        step = i + 1
        if loss is None:
            out.append(math.nan)
            continue
        avg = beta * avg + (1 - beta) * loss
        smoothed = avg / (1 - beta ** (step + 1))
        stop = threshold is not None and step > 1 and best is not None and smoothed > threshold * best
        if best is None or smoothed < best:
            best = smoothed
        out.append(smoothed)
        if stop:
            return out, True
    return out, False


def run_test(finder, losses, state=None):
    test = finder.start() if state is None else state
    for loss in losses:
        if finder.done(test):
            break
        test = finder.observe(test, loss)
    return test


def reference_suggestion(lrs, losses, skip_begin, skip_end):
    idx = [i for i in range(skip_begin, len(losses) - skip_end) if math.isfinite(losses[i])]
    if len(idx) < 2:
        return None
    with np.errstate(all="ignore"):
        grads = np.gradient(np.array([losses[i] for i in idx]), np.array([lrs[i] for i in idx]))
    return idx[int(np.argmin(grads))]


class TestLearningRates:
    @SETTINGS
    @given(ranges())
    def test_monotone_from_min_to_max(self, args):
        low, high, n, mode = args
        lrs = [range_test_lr(i, low, high, n, mode) for i in range(n)]
        assert lrs[0] == low
        assert all(a <= b for a, b in zip(lrs, lrs[1:])), lrs
        assert all(low <= lr <= high for lr in lrs)
        assert lrs[-1] == (high if n >= 2 else low)

    @SETTINGS
    @given(ranges())
    def test_lightning_formula_inside(self, args):
        low, high, n, mode = args
        for i in range(1, n - 1):
            r = (i + 1) / n
            expected = low * (high / low) ** r if mode == "exponential" else low + r * (high - low)
            assert math.isclose(range_test_lr(i, low, high, n, mode), expected, rel_tol=1e-12)

    @SETTINGS
    @given(ranges(), st.lists(st.one_of(st.none(), raw_losses), max_size=320), st.sampled_from((None, 1.5, 4.0)))
    def test_recorded_rates_are_the_sequence_and_end_at_max_unless_stopped(self, args, losses, threshold):
        low, high, n, mode = args
        finder = lr_finder(low, high, n, mode, early_stop_threshold=threshold)
        test = run_test(finder, losses)
        assert list(test.lrs) == [finder.lr_at(i) for i in range(len(test.lrs))]
        if not test.stopped and len(losses) >= n:
            assert len(test.lrs) == n and test.lrs[-1] == (high if n >= 2 else low)


class TestSmoothingAndStop:
    @SETTINGS
    @given(st.lists(st.one_of(st.none(), raw_losses), max_size=120), st.integers(1, 100),
           st.sampled_from((None, 0.5, 1.0, 4.0)))
    def test_matches_lightning_callback(self, losses, n, threshold):
        finder = lr_finder(1e-6, 1.0, n, early_stop_threshold=threshold)
        test = run_test(finder, losses)
        expected, stopped = reference_test(losses, n, threshold)
        assert same(list(test.losses), expected)
        assert test.stopped == stopped
        assert finder.done(test) == (stopped or len(expected) == n)


class TestSuggestion:
    @SETTINGS
    @given(ranges(), st.lists(raw_losses, max_size=300), st.integers(0, 12), st.integers(0, 3))
    def test_index_of_steepest_descent(self, args, losses, skip_begin, skip_end):
        low, high, n, mode = args
        lrs = sorted({range_test_lr(i, low, high, max(n, len(losses)), mode) for i in range(max(n, len(losses)))})
        losses = losses[: len(lrs)]
        lrs = lrs[: len(losses)]
        assert suggestion(lrs, losses, skip_begin, skip_end) == reference_suggestion(lrs, losses, skip_begin, skip_end)

    @SETTINGS
    @given(st.lists(raw_losses, min_size=1, max_size=150), st.sampled_from((None, 4.0)))
    def test_of_the_smoothed_losses(self, losses, threshold):
        finder = lr_finder(1e-5, 1.0, len(losses), early_stop_threshold=threshold)
        test = run_test(finder, losses)
        lrs, smoothed = list(test.lrs), list(test.losses)
        got = suggestion(lrs, smoothed)
        assert got == reference_suggestion(lrs, smoothed, 10, 1)
        finite = [i for i in range(10, len(smoothed) - 1) if math.isfinite(smoothed[i])]
        assert (got is None) == (len(finite) < 2)


class TestHookAndResume:
    @SETTINGS
    @given(fit_streams(max_epochs=3), st.data())
    def test_one_request_per_fit_and_resume_law(self, events, data):
        finder = lr_finder(num_training_steps=20)
        effects = [e for _, out in scan(finder, events) for e in out]
        assert effects == [FindLearningRate(finder)]
        assert_resumes(finder, events, data.draw(st.integers(0, len(events))))
        state, _ = fold(finder, events)
        assert fold(finder, events, roundtrip(state))[1] == ()  # a resumed run does not search again

    @SETTINGS
    @given(st.lists(st.one_of(st.none(), raw_losses), max_size=80), st.integers(1, 60), st.data())
    def test_range_test_resumes(self, losses, n, data):
        finder = lr_finder(1e-4, 10.0, n, "linear")
        at = data.draw(st.integers(0, len(losses)))
        whole = run_test(finder, losses)
        half = run_test(finder, losses[:at])
        assert isinstance(roundtrip(half), RangeTest)
        assert same(run_test(finder, losses[at:], roundtrip(half)), whole)
