"""The SWA schedule: which epochs are averaged, and SWALR's lrs for every epoch, against reference formulas."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from fhooks.core import Event, fold
from fhooks.core.events import RunInfo
from fhooks.hooks.model_effects import AnnealLearningRates, SwapAveraged, UpdateAverage
from fhooks.hooks.swa import stochastic_weight_averaging, swa_lr
from fhooks.testing import assert_resumes, fit_streams


def reference_swalr(lr0: float, target: float, anneal: int, strategy: str, epochs: int) -> list[float]:
    """torch's SWALR recursion (constructed at swa_start, stepped at each epoch end), in plain Python."""
    f = (lambda t: (1 - math.cos(math.pi * t)) / 2) if strategy == "cos" else (lambda t: t)
    lr, out = lr0, []
    for count in range(1, epochs + 1):  # _step_count after construction (1) and each step
        step = count - 1
        if anneal == 0:
            step = max(1, step)
        prev_alpha = f(max(0, min(1, (step - 1) / max(1, anneal))))
        prev = target if prev_alpha == 1 else (lr - prev_alpha * target) / (1 - prev_alpha)
        alpha = f(max(0, min(1, step / max(1, anneal))))
        lr = target * alpha + prev * (1 - alpha)
        out.append(lr)
    return out


def run(max_epochs, start, anneal, strategy, lr=0.1):
    hook = stochastic_weight_averaging(lr, swa_epoch_start=start, annealing_epochs=anneal, annealing_strategy=strategy)
    events = [Event("fit_start", data=RunInfo(max_epochs=max_epochs))]
    events += [Event("train_epoch_start", epoch=e) for e in range(max_epochs)]
    events.append(Event("train_end", epoch=max_epochs))
    return fold(hook, events)


starts = st.one_of(st.integers(1, 12), st.floats(0, 1))


@settings(max_examples=200)
@given(st.integers(1, 12), starts, st.integers(0, 6), st.sampled_from(["cos", "linear"]),
       st.floats(1e-4, 1.0), st.floats(1e-4, 1.0))
def test_lrs_match_swalr_for_every_epoch(max_epochs, start, anneal, strategy, lr0, target):
    first = int(max_epochs * start) if isinstance(start, float) else start
    swa_start = max(first - 1, 0)
    if swa_start > max_epochs - 1:
        return
    state, effects = run(max_epochs, start, anneal, strategy, target)
    alphas = [e.alpha for e in effects if isinstance(e, AnnealLearningRates)]
    assert state.swa_start == swa_start and state.swa_end == max_epochs - 1
    expected = reference_swalr(lr0, target, anneal, strategy, max_epochs - swa_start)
    got = [swa_lr(lr0, target, a) for a in alphas]
    assert all(math.isclose(g, x, rel_tol=1e-9, abs_tol=1e-15) for g, x in zip(got, expected, strict=True))


@settings(max_examples=200)
@given(st.integers(1, 12), starts, st.integers(0, 6))
def test_average_covers_the_start_of_each_swa_epoch_once(max_epochs, start, anneal):
    first = int(max_epochs * start) if isinstance(start, float) else start
    swa_start = max(first - 1, 0)
    if swa_start > max_epochs - 1:
        state, effects = run(max_epochs, start, anneal, "cos")
        assert [type(e).__name__ for e in effects] == ["Raise"]
        return
    state, effects = run(max_epochs, start, anneal, "cos")
    updates = [e.n_averaged for e in effects if isinstance(e, UpdateAverage)]
    assert updates == list(range(max_epochs - swa_start))
    assert state.n_averaged == max_epochs - swa_start
    assert sum(isinstance(e, SwapAveraged) for e in effects) == 1


@settings(max_examples=100)
@given(st.integers(1, 8), st.integers(0, 7))
def test_an_epoch_started_again_after_a_resume_is_averaged_once(max_epochs, again):
    hook = stochastic_weight_averaging(0.1, swa_epoch_start=1)
    events = [Event("fit_start", data=RunInfo(max_epochs=max_epochs))]
    for e in range(max_epochs):
        events += [Event("train_epoch_start", epoch=e)] * (2 if e == again else 1)
    state, effects = fold(hook, events)
    assert state.n_averaged == max_epochs


@settings(max_examples=150)
@given(fit_streams(max_epochs=6), st.data(), starts.filter(lambda s: not isinstance(s, int) or s <= 1))
def test_resume_law(events, data, start):
    hook = stochastic_weight_averaging([0.05], swa_epoch_start=start, annealing_epochs=2)
    assert_resumes(hook, events, data.draw(st.integers(0, len(events))))
