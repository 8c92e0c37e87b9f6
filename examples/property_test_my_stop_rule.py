"""Property-test your own stop rule with hypothesis and fhooks.testing (no torch, no trainer).

The rule: stop when ``monitor`` has not improved by more than ``min_delta`` for
``patience`` validation runs in a row, ignoring the sanity check. Run the tests
(about 10 s, measured on 2 shared CPU cores):

    python -m pytest examples/property_test_my_stop_rule.py    # or: python examples/property_test_my_stop_rule.py
"""

from __future__ import annotations

import math

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from fhooks.core import Event, Stop, fold, scan, state_class, when
from fhooks.testing import assert_resumes, check_fit_stream, fit_streams, metric_values


# -- the hook under test ------------------------------------------------------------------------
@state_class
class PlateauState:
    best: float = math.inf
    bad_checks: int = 0


@attrs.frozen
class StopOnPlateau:
    monitor: str
    patience: int
    min_delta: float = 0.0
    init = PlateauState()
    kinds = frozenset({"validation_end"})

    def step(self, state: PlateauState, event: Event) -> tuple[PlateauState, tuple[Stop, ...]]:
        if event.stage != "fit":                          # skip the sanity check
            return state, ()
        value = event.metrics[self.monitor]
        if value < state.best - self.min_delta:           # NaN never improves
            return PlateauState(value, 0), ()
        state = PlateauState(state.best, state.bad_checks + 1)
        if state.bad_checks >= self.patience:
            return state, (Stop(f"{self.monitor} did not improve for {state.bad_checks} checks"),)
        return state, ()


def stop_on_plateau(monitor: str, patience: int = 3, min_delta: float = 0.0) -> StopOnPlateau:
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
        raise ValueError(f"stop_on_plateau: patience={patience!r} must be a positive int")
    return StopOnPlateau(monitor, patience, min_delta)


# -- a reference model: the same rule, written the obvious way ----------------------------------
def reference_stops(values: list[float], patience: int, min_delta: float) -> list[int]:
    """The indices of the checks at which the rule stops."""
    best, bad, stops = math.inf, 0, []
    for i, value in enumerate(values):
        if value < best - min_delta:
            best, bad = value, 0
        else:
            bad += 1
            if bad >= patience:
                stops.append(i)
    return stops


def fit_checks(events: list[Event]) -> list[Event]:
    return [e for e in events if e.kind == "validation_end" and e.stage == "fit"]


patiences = st.integers(1, 4)
deltas = st.sampled_from([0.0, 0.5])
streams = fit_streams(metrics=("val_loss",), max_epochs=10, sanity_check=None)


# -- the properties ----------------------------------------------------------------------------------
@settings(max_examples=200)
@given(streams, patiences, deltas)
def test_matches_the_reference(events, patience, min_delta):
    rule = stop_on_plateau("val_loss", patience, min_delta)
    checks = fit_checks(events)
    stopped_at = [i for i, (_, effects) in enumerate(scan(rule, checks)) if effects]
    assert stopped_at == reference_stops([e.metrics["val_loss"] for e in checks], patience, min_delta)


@settings(max_examples=200)
@given(streams, patiences, deltas, st.data())
def test_resume_law(events, patience, min_delta, data):
    at = data.draw(st.integers(0, len(events)), label="split")
    assert_resumes(stop_on_plateau("val_loss", patience, min_delta), events, at)


@settings(max_examples=100)
@given(fit_streams(sanity_check=True), patiences)
def test_never_stops_during_the_sanity_check(events, patience):
    for event, (_, effects) in zip(events, scan(stop_on_plateau("val_loss", patience), events)):
        assert not (effects and event.stage == "sanity_check")


@settings(max_examples=100)
@given(st.lists(metric_values(), min_size=1, max_size=20))
def test_the_best_is_never_nan(values):
    checks = [Event("validation_end", epoch=i, metrics={"val_loss": v}) for i, v in enumerate(values)]
    state, _ = fold(stop_on_plateau("val_loss", patience=2), checks)
    assert not math.isnan(state.best)
    assert state.best == min([v for v in values if not math.isnan(v)], default=math.inf)


@settings(max_examples=100)
@given(streams, patiences)
def test_filtering_to_fit_changes_nothing(events, patience):
    rule = stop_on_plateau("val_loss", patience)
    assert fold(when(lambda e: e.stage == "fit", rule), events) == fold(rule, events)


def test_a_hand_written_stream():
    values = [1.0, 0.5, 0.5, 0.7, 0.2]
    events = [Event("validation_end", epoch=i, metrics={"val_loss": v}) for i, v in enumerate(values)]
    assert fold(stop_on_plateau("val_loss", patience=2), events) == (
        PlateauState(0.2, 0), (Stop("val_loss did not improve for 2 checks"),))


def test_generated_streams_keep_the_trainers_contract():
    @settings(max_examples=50)
    @given(streams)
    def check(events):
        check_fit_stream(events)

    check()


def test_bad_patience_fails_when_built():
    try:
        stop_on_plateau("val_loss", patience=0)
    except ValueError as error:
        assert str(error) == "stop_on_plateau: patience=0 must be a positive int"
    else:
        raise AssertionError("patience=0 was accepted")


if __name__ == "__main__":  # run this file's tests in a fresh pytest process
    import subprocess
    import sys

    sys.exit(subprocess.run([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider"]).returncode)
