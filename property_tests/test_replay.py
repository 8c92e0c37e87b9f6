"""Properties of replay: it is the fold of the events a table implies, and it agrees with folding the run."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fhooks.core import fold, sequence
from fhooks.core.effects import Stop
from fhooks.errors import MissingMetric
from fhooks.hooks import early_stopping, model_checkpoint
from fhooks.replay import replay, replay_events
from fhooks.testing import fit_streams, metric_values, same


@st.composite
def tables(draw):
    """Lightning-shaped tables: per epoch some step rows (``loss``) then an epoch row (``val_loss``)."""
    rows, step = [], 0
    for epoch in range(draw(st.integers(1, 8))):
        for _ in range(draw(st.integers(0, 3))):
            rows.append({"epoch": epoch, "step": step, "loss": draw(metric_values())})
            step += 1
        if draw(st.integers(0, 4)):
            rows.append({"epoch": epoch, "step": max(step - 1, 0), "val_loss": draw(metric_values())})
    return rows


hooks = st.one_of(
    st.builds(lambda k, mode, last: model_checkpoint(monitor="val_loss", save_top_k=k, mode=mode, save_last=last),
              st.sampled_from([-1, 0, 1, 2]), st.sampled_from(["min", "max"]), st.sampled_from([None, True, "link"])),
    st.builds(lambda n: model_checkpoint(every_n_train_steps=n, save_top_k=-1), st.integers(1, 3)),
    st.builds(lambda p: sequence(model_checkpoint(), early_stopping("val_loss", patience=p, strict=False)),
              st.integers(0, 3)),
)


@given(hooks, tables())
def test_replay_is_the_fold_of_its_events(hook, rows):
    try:
        report = replay(hook, rows)
    except MissingMetric as error:  # a monitored metric the table lacks: folding its events fails the same way
        with pytest.raises(MissingMetric) as folded:
            fold(hook, replay_events(rows))
        assert str(folded.value) == str(error)
        return
    events = [e for row in report.rows for e in row.events]
    full = replay_events(rows)
    assert events == full[3:3 + len(events)]
    state, effects = fold(hook, full[:3 + len(events)] + full[-3:] if report.stopped_epoch is None
                          else full[:3 + len(events)])
    closing = () if report.stopped_epoch is None else fold(hook, full[-3:], state)[1]
    assert same(report.effects, effects + closing)
    stops = [e for e in report.effects if isinstance(e, Stop)]
    assert (report.stopped_epoch is None) == (not stops)


def table_of(events):
    """The rows Lightning's CSVLogger writes for a run: step rows and one validation row per epoch."""
    rows = []
    for event in events:
        if event.kind == "train_batch_end":
            rows.append({"epoch": event.epoch, "step": event.step - 1, "loss": event.metrics["loss"]})
        elif event.kind == "validation_end" and event.stage == "fit":
            rows.append({"epoch": event.epoch, "step": event.step - 1, "val_loss": event.metrics["val_loss"]})
    return rows


@given(st.integers(0, 4), st.sampled_from(["min", "max"]), st.floats(0, 1), fit_streams(time=False))
def test_replay_stops_where_folding_the_run_stops(patience, mode, min_delta, events):
    hook = early_stopping("val_loss", patience=patience, mode=mode, min_delta=min_delta)
    stops = [(event.epoch, effects) for event, effects in
             ((e, fold(hook, events[:i + 1])[1][len(fold(hook, events[:i])[1]):]) for i, e in enumerate(events))
             if any(isinstance(x, Stop) for x in effects)]
    report = replay(hook, table_of(events))
    assert report.stopped_epoch == (stops[0][0] if stops else None)
