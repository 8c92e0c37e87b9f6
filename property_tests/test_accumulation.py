"""gradient_accumulation_scheduler over generated schedules and streams: the factor of every epoch, the resume law."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fhooks.callbacks import GradientAccumulationScheduler
from fhooks.core import Event, Raise, SetAccumulation, fold, scan
from fhooks.core.events import RunInfo
from fhooks.errors import InvalidArgument
from fhooks.hooks import gradient_accumulation_scheduler
from fhooks.testing import assert_resumes, fit_streams

schedules = st.dictionaries(st.integers(0, 10), st.integers(1, 8), min_size=1, max_size=5)
streams = fit_streams(max_epochs=12, max_batches=2, validation=None)


def reference(schedule: dict[int, int], epoch: int) -> int:
    """The factor Lightning uses in ``epoch``: that of the latest start ``<= epoch``, 1 before any."""
    starts = [k for k in schedule if k <= epoch]
    return schedule[max(starts)] if starts else 1


class TestFactors:
    @given(schedules, streams)
    def test_factor_in_force_at_every_epoch_is_the_schedules(self, schedule, events):
        current = None
        for event, (_, effects) in zip(events, scan(gradient_accumulation_scheduler(schedule), events)):
            sets = [e.factor for e in effects if isinstance(e, SetAccumulation)]
            if event.kind == "train_epoch_start":
                assert len(sets) <= 1
                if sets:
                    assert sets[0] != current, "emitted a factor that was already in force"
                    current = sets[0]
                assert current == reference(schedule, event.epoch)
            else:
                assert sets == []

    @given(schedules, st.integers(0, 40))
    def test_class_and_hook_agree_with_the_reference(self, schedule, epoch):
        copy = dict(schedule)
        assert gradient_accumulation_scheduler(schedule).get_accumulate_grad_batches(epoch) == reference(copy, epoch)
        assert GradientAccumulationScheduler(schedule).get_accumulate_grad_batches(epoch) == reference(copy, epoch)
        assert schedule == copy

    @given(schedules, st.integers(2, 16))
    def test_trainer_accumulation_raises_first(self, schedule, factor):
        events = [Event("fit_start", data=RunInfo(accumulate_grad_batches=factor)), Event("train_epoch_start")]
        _, effects = fold(gradient_accumulation_scheduler(schedule), events)
        assert isinstance(effects[0], Raise) and isinstance(effects[0].error, ValueError)

    @given(st.dictionaries(st.one_of(st.integers(-5, 5), st.floats(0, 3), st.text(max_size=1)),
                           st.one_of(st.integers(-2, 4), st.floats(0, 4)), max_size=3))
    def test_validation_accepts_exactly_int_keys_ge_0_and_int_values_ge_1(self, schedule):
        valid = bool(schedule) and all(type(k) is int and k >= 0 for k in schedule) and all(
            type(v) is int and v >= 1 for v in schedule.values())
        try:
            gradient_accumulation_scheduler(schedule)
        except InvalidArgument:
            assert not valid
        else:
            assert valid


class TestResume:
    @settings(max_examples=60)
    @given(schedules, fit_streams(max_epochs=8, max_batches=1, validation=False))
    def test_resume_law_at_every_split(self, schedule, events):
        hook = gradient_accumulation_scheduler(schedule)
        for at in range(len(events) + 1):
            assert_resumes(hook, events, at)
