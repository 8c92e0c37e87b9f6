"""The strategies of fhooks.testing produce what they promise."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from fhooks.core import EVENT_KINDS, BatchData
from fhooks.core.events import RunInfo
from fhooks.testing import check_fit_stream, events, fit_streams, metric_values
from property_tests.strategies import streams


class TestFitStreams:
    @given(streams)
    def test_keep_the_contract(self, stream):
        check_fit_stream(stream)

    @given(streams)
    def test_time_strictly_increases(self, stream):
        times = [e.time for e in stream]
        assert all(a < b for a, b in zip(times, times[1:]))

    @given(fit_streams(time=False))
    def test_time_off(self, stream):
        assert {e.time for e in stream} == {0.0}

    @given(streams)
    def test_run_info_matches_the_stream(self, stream):
        info = stream[0].data
        assert isinstance(info, RunInfo) and stream[1].data is info
        epochs = [e.epoch for e in stream if e.kind == "train_epoch_start"]
        assert epochs == list(range(len(epochs)))
        if stream[-1].kind == "teardown":
            assert len(epochs) == info.max_epochs
            per_epoch = [sum(1 for e in stream if e.kind == "train_batch_end" and e.epoch == k) for k in epochs]
            assert per_epoch == [info.num_training_batches] * len(epochs)
        has_validation = any(e.kind == "validation_end" and e.stage == "fit" for e in stream)
        assert info.num_val_batches > 0 or not has_validation

    @given(streams)
    def test_step_counts_batches_and_increments_before_batch_end(self, stream):
        done = 0
        for e in stream:
            if e.kind == "train_batch_start":
                assert e.step == done
            if e.kind == "train_batch_end":
                done += 1
                assert e.step == done
                assert isinstance(e.data, BatchData) and e.data.outputs == e.metrics
                assert set(e.metrics) == {"loss"}

    @given(streams)
    def test_epoch_metrics_on_validation_and_train_epoch_end(self, stream):
        for e in stream:
            if e.kind in ("validation_epoch_end", "validation_end", "train_epoch_end"):
                assert set(e.metrics) == {"val_loss", "val_acc"}
        for k in {e.epoch for e in stream if e.kind == "train_epoch_end"}:
            ends = [e for e in stream if e.epoch == k and e.stage == "fit"
                    and e.kind in ("validation_end", "train_epoch_end")]
            assert [e.kind for e in ends][-1] == "train_epoch_end"
            assert all(e.metrics is ends[-1].metrics for e in ends)

    @given(fit_streams(sanity_check=True))
    def test_sanity_check(self, stream):
        sanity = [e for e in stream if e.stage == "sanity_check"]
        assert [e.kind for e in sanity][0] == "sanity_check_start"
        assert [e.kind for e in sanity][-1] == "sanity_check_end"
        assert "validation_end" in [e.kind for e in sanity]
        assert stream[stream.index(sanity[-1]) + 1].kind == "train_start"

    @given(fit_streams(validation=False, sanity_check=True))
    def test_no_validation_no_sanity_check(self, stream):
        assert not any(e.kind.startswith(("validation", "sanity")) for e in stream)
        assert all(set(e.metrics) == {"val_loss"} for e in stream if e.kind == "train_epoch_end")

    @given(fit_streams(exception=True))
    def test_exception_ends_a_crashed_stream(self, stream):
        kinds = [e.kind for e in stream]
        assert kinds.count("exception") <= 1
        if "exception" in kinds:
            assert kinds[-1] == "exception" and "teardown" not in kinds
            assert isinstance(stream[-1].data, RuntimeError)

    @given(fit_streams(min_epochs=2, max_epochs=3, max_batches=1))
    def test_epoch_bounds(self, stream):
        assert 2 <= sum(e.kind == "train_epoch_start" for e in stream) <= 3


class TestMetricValues:
    @given(st.lists(metric_values(allow_nan=False, allow_infinity=False), min_size=1))
    def test_finite_when_asked(self, values):
        assert all(math.isfinite(v) and -1e6 <= v <= 1e6 for v in values)

    @given(metric_values(min_value=-3, max_value=3, allow_infinity=False, allow_nan=False))
    def test_bounds(self, value):
        assert -3 <= value <= 3


class TestEvents:
    @given(events())
    def test_any_kind_is_well_formed(self, event):
        assert event.kind in EVENT_KINDS
        if event.kind in ("setup", "fit_start"):
            assert isinstance(event.data, RunInfo)
        if "_batch_" in event.kind:
            assert isinstance(event.data, BatchData)
        if event.kind.startswith("train_"):
            assert event.stage == "fit"

    @given(events(["validation_end", "test_end"]))
    def test_chosen_kinds(self, event):
        assert event.kind in ("validation_end", "test_end")
        assert event.stage == "test" if event.kind == "test_end" else event.stage in ("fit", "validate", "sanity_check")
