"""Property tests for ``early_stopping`` against a small reference model, over generated fit streams.

Streams come from :func:`fhooks.testing.fit_streams`: metric values with ties, NaN and ±inf.
"""

from __future__ import annotations

import math

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from fhooks.callbacks import EarlyStopping
from fhooks.core import Event, Stop, all_of, any_of, fold, scan
from fhooks.hooks import early_stopping
from fhooks.hooks.early_stopping import RestoreWeights, SnapshotWeights
from fhooks.testing import assert_resumes, fit_streams, metric_values

SETTINGS = settings(max_examples=150, deadline=None)


def reference(values, *, patience=3, mode="min", min_delta=0.0, check_finite=True,
              stopping_threshold=None, divergence_threshold=None):
    """Lightning's rule written plainly: flip max to min, then one branch per reason, first match wins.

    Returns per check (stop, improved), and the final best score and wait count.
    """
    sign = 1.0 if mode == "min" else -1.0
    best, wait, out = math.inf, 0, []
    for value in values:
        x = sign * value
        if check_finite and not math.isfinite(value):
            out.append((True, False))
        elif stopping_threshold is not None and x < sign * stopping_threshold:
            out.append((True, False))
        elif divergence_threshold is not None and x > sign * divergence_threshold:
            out.append((True, False))
        elif x + min_delta < best:
            best, wait = x, 0
            out.append((False, True))
        else:
            wait += 1
            out.append((wait >= patience, False))
    return out, sign * best, wait


def stops_per_check(hook, events, kind="train_epoch_end"):
    """For each event of ``kind`` in the fit stage, whether the hook returned a Stop there."""
    return [any(type(x) is Stop for x in out)
            for e, (_, out) in zip(events, scan(hook, events)) if e.kind == kind and e.stage == "fit"]


def checked(events, name="val_loss", kind="train_epoch_end"):
    return [e.metrics[name] for e in events if e.kind == kind and e.stage == "fit"]


thresholds = st.none() | metric_values(allow_nan=False, allow_infinity=False, min_value=-3, max_value=3)
options = st.fixed_dictionaries({
    "patience": st.integers(0, 4),
    "mode": st.sampled_from(("min", "max")),
    "min_delta": st.sampled_from((0.0, 0.0, 0.5, 1.0)) | st.floats(0, 2),
    "check_finite": st.booleans(),
    "stopping_threshold": thresholds,
    "divergence_threshold": thresholds,
})


@SETTINGS
@given(fit_streams(max_epochs=10), options)
def test_matches_reference(events, kwargs):
    hook = early_stopping("val_loss", **kwargs)
    expected, best, wait = reference(checked(events), **kwargs)
    assert stops_per_check(hook, events) == [stop for stop, _ in expected]
    state, _ = fold(hook, events)
    assert (state.best_score, state.wait_count) == (best, wait)
    stops = [e.epoch for e, (_, out) in zip(events, scan(hook, events)) if out]
    assert state.stopped_epoch == (stops[-1] if stops else 0)


@SETTINGS
@given(fit_streams(max_epochs=10), st.integers(0, 4))
def test_first_stop_is_patience_or_a_stated_reason(events, patience):
    """No stop before the wait reaches patience, unless the value is not finite (thresholds off here)."""
    hook = early_stopping(patience=patience)
    reach = max(patience, 1)  # the wait grows before it is compared, so patience=0 stops at wait 1
    state = hook.init
    for event in events:
        before = state
        state, effects = hook.step(state, event) if event.kind in hook.kinds else (state, ())
        if any(type(x) is Stop for x in effects):
            if math.isfinite(event.metrics["val_loss"]):
                assert (before.wait_count, state.wait_count) == (reach - 1, reach), (before, event, state)
            else:
                assert (state.best_score, state.wait_count) == (before.best_score, before.wait_count)
            break
        assert state.wait_count < reach


@SETTINGS
@given(fit_streams(max_epochs=10), options)
def test_max_on_x_decides_as_min_on_minus_x(events, kwargs):
    negate = {k: (None if v is None else -v) for k, v in kwargs.items() if k.endswith("threshold")}
    as_max = early_stopping(**{**kwargs, **negate, "mode": "max"})
    as_min = early_stopping(**{**kwargs, "mode": "min"})
    flipped = [attrs.evolve(e, metrics={k: -v for k, v in e.metrics.items()}) for e in events]
    assert stops_per_check(as_max, flipped) == stops_per_check(as_min, events)
    got, want = fold(as_max, flipped)[0], fold(as_min, events)[0]
    assert (-got.best_score, got.wait_count, got.stopped_epoch) == (want.best_score, want.wait_count,
                                                                     want.stopped_epoch)


@settings(max_examples=60, deadline=None)
@given(fit_streams(max_epochs=6, max_batches=2, sanity_check=None), options, st.booleans())
def test_resume_law_at_every_split(events, kwargs, restore):
    hook = early_stopping(**kwargs, restore_best_weights=restore, verbose=True)
    for at in range(len(events) + 1):
        assert_resumes(hook, events, at)


@SETTINGS
@given(fit_streams(max_epochs=8, sanity_check=None), st.integers(0, 3))
def test_checks_at_validation_end_skip_sanity(events, patience):
    hook = early_stopping(patience=patience, check_on_train_epoch_end=False)
    expected, _, _ = reference(checked(events, kind="validation_end"), patience=patience)
    assert stops_per_check(hook, events, "validation_end") == [stop for stop, _ in expected]
    assert stops_per_check(hook, events, "train_epoch_end") == [False] * len(checked(events))


@SETTINGS
@given(fit_streams(("a", "b"), max_epochs=10), st.integers(0, 3), st.integers(0, 3))
def test_any_of_and_all_of(events, pa, pb):
    ra = [s for s, _ in reference(checked(events, "a"), patience=pa)[0]]
    rb = [s for s, _ in reference(checked(events, "b"), patience=pb)[0]]
    es_a, es_b = early_stopping("a", patience=pa), early_stopping("b", patience=pb)
    assert stops_per_check(any_of(es_a, es_b), events) == [x or y for x, y in zip(ra, rb)]
    assert stops_per_check(all_of(es_a, es_b), events) == [x and y for x, y in zip(ra, rb)]
    for (_, effects), e in zip(scan(all_of(es_a, es_b), events), events):
        for stop in effects:
            assert [r[:18] for r in stop.reasons] == ["Monitored metric a", "Monitored metric b"], e


@SETTINGS
@given(fit_streams(max_epochs=10), options)
def test_restore_best_weights_snapshots_each_improvement(events, kwargs):
    hook = early_stopping(**kwargs, restore_best_weights=True)
    expected, _, _ = reference(checked(events), **kwargs)
    _, effects = fold(hook, events)
    snapshots = [e for e in effects if type(e) is SnapshotWeights]
    assert len(snapshots) == sum(improved for _, improved in expected)
    restores = [e for e in effects if type(e) is RestoreWeights]
    assert restores == ([RestoreWeights(hook.weights_key)] if snapshots else [])
    assert effects[-1:] == tuple(restores[-1:]) or not restores


@SETTINGS
@given(fit_streams(max_epochs=6), options)
def test_class_decides_as_the_hook(events, kwargs):
    es = EarlyStopping("val_loss", **kwargs)
    state, effects = fold(early_stopping("val_loss", **kwargs), events)
    assert fold(es, events) == (state, effects)
    assert (es.best_score, es.wait_count, es.stopped_epoch) == (state.best_score, state.wait_count, state.stopped_epoch)


@SETTINGS
@given(fit_streams(max_epochs=4), options)
def test_step_is_pure(events, kwargs):
    hook = early_stopping(**kwargs)
    state = hook.init
    for event in events:
        if event.kind in hook.kinds:
            snapshot = (state, Event(event.kind, event.stage, event.epoch, event.step, event.batch_idx, event.time,
                                     dict(event.metrics), event.data))
            first, second = hook.step(state, event), hook.step(state, event)
            assert first == second and (state, event) == snapshot
            state = first[0]
