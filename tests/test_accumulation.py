"""GradientAccumulationScheduler / gradient_accumulation_scheduler: examples and exact errors."""

from __future__ import annotations

import pytest

from fhooks.callbacks import GradientAccumulationScheduler
from fhooks.core import Event, Raise, SetAccumulation, fold, from_data, to_data
from fhooks.core.events import RunInfo
from fhooks.errors import InvalidArgument, MisconfigurationError
from fhooks.hooks import AccumulationState, gradient_accumulation_scheduler


def epochs(n: int, info: RunInfo | None = None) -> list[Event]:
    return [Event("fit_start", data=info or RunInfo())] + [Event("train_epoch_start", epoch=e) for e in range(n)]


class TestSchedule:
    @pytest.mark.parametrize(("scheduling", "factors"), [
        ({0: 1, 2: 4, 5: 8}, [1, 1, 4, 4, 4, 8, 8, 8]),
        ({1: 2, 3: 4}, [1, 2, 2, 4, 4, 4, 4, 4]),
        ({0: 2, 2: 1}, [2, 2, 1, 1, 1, 1, 1, 1]),
        ({3: 3, 1: 2}, [1, 2, 2, 3, 3, 3, 3, 3]),
    ])
    def test_factor_per_epoch(self, scheduling, factors):
        assert [gradient_accumulation_scheduler(scheduling).get_accumulate_grad_batches(e) for e in range(8)] == factors
        assert [GradientAccumulationScheduler(scheduling).get_accumulate_grad_batches(e) for e in range(8)] == factors

    def test_emits_at_the_first_epoch_and_at_changes_only(self):
        _, effects = fold(gradient_accumulation_scheduler({0: 1, 2: 4, 5: 8}), epochs(8))
        assert effects == (SetAccumulation(1), SetAccumulation(4), SetAccumulation(8))

    def test_fit_start_forgets_the_factor_so_a_resumed_run_sets_it_again(self):
        h = gradient_accumulation_scheduler({1: 2})
        state, _ = fold(h, epochs(3))
        assert state == AccumulationState(2)
        _, effects = fold(h, [Event("fit_start", data=RunInfo()), Event("train_epoch_start", epoch=3)], state)
        assert effects == (SetAccumulation(2),)

    def test_callers_dict_is_not_changed(self):
        schedule = {2: 4}
        cb = GradientAccumulationScheduler(schedule)
        assert schedule == {2: 4}
        assert cb.scheduling == {0: 1, 2: 4} and cb.epochs == [0, 2]
        cb.scheduling[7] = 9  # a copy
        assert cb.get_accumulate_grad_batches(7) == 4

    def test_going_to_accumulate(self):
        assert GradientAccumulationScheduler({3: 2}).going_to_accumulate_grad_batches()
        assert not GradientAccumulationScheduler({0: 1, 3: 1}).going_to_accumulate_grad_batches()

    def test_reprs_and_equality(self):
        expected = "gradient_accumulation_scheduler({0: 1, 1: 4, 3: 2})"
        assert repr(gradient_accumulation_scheduler({3: 2, 1: 4})) == expected
        assert repr(GradientAccumulationScheduler({1: 4})) == "GradientAccumulationScheduler(scheduling={0: 1, 1: 4})"
        assert gradient_accumulation_scheduler({1: 4}) == gradient_accumulation_scheduler({0: 1, 1: 4})


class TestConflict:
    def test_trainer_accumulation_conflicts(self):
        _, effects = fold(gradient_accumulation_scheduler({1: 2}), epochs(1, RunInfo(accumulate_grad_batches=4)))
        assert effects[0] == Raise(MisconfigurationError(
            "gradient_accumulation_scheduler: Trainer(accumulate_grad_batches=4) conflicts with the accumulation "
            "schedule; either remove accumulate_grad_batches from the Trainer or remove the callback"))
        assert isinstance(effects[0].error, ValueError)

    def test_no_run_info_means_no_check(self):
        _, effects = fold(gradient_accumulation_scheduler({0: 2}), [Event("fit_start"), Event("train_epoch_start")])
        assert effects == (SetAccumulation(2),)


class TestErrors:
    @pytest.mark.parametrize(("scheduling", "message", "error"), [
        ({}, "scheduling must be a non-empty dict {epoch: factor}, got {}", TypeError),
        ([(0, 1)], "scheduling must be a non-empty dict {epoch: factor}, got [(0, 1)]", TypeError),
        ({-1: 2}, "epochs (the keys of scheduling) must be ints >= 0, got [-1]", InvalidArgument),
        ({"1": 2}, "epochs (the keys of scheduling) must be ints >= 0, got ['1']", InvalidArgument),
        ({1.0: 2}, "epochs (the keys of scheduling) must be ints >= 0, got [1.0]", InvalidArgument),
        ({1: 2.0}, "accumulation factors (the values of scheduling) must be ints >= 1, got [2.0]", InvalidArgument),
        ({1: 0, 2: 3}, "accumulation factors (the values of scheduling) must be ints >= 1, got [0, 3]",
         InvalidArgument),
        ({1: True}, "accumulation factors (the values of scheduling) must be ints >= 1, got [True]", InvalidArgument),
    ])
    def test_messages(self, scheduling, message, error):
        with pytest.raises(error) as info:
            gradient_accumulation_scheduler(scheduling)
        assert str(info.value) == f"gradient_accumulation_scheduler: {message}"
        assert isinstance(info.value, InvalidArgument)
        with pytest.raises(error) as info:
            GradientAccumulationScheduler(scheduling)
        assert str(info.value) == f"GradientAccumulationScheduler: {message}"


class TestState:
    def test_state_dict_round_trip(self):
        cb = GradientAccumulationScheduler({1: 2})
        fold(cb, epochs(2))
        saved = cb.state_dict()
        other = GradientAccumulationScheduler({1: 2})
        other.load_state_dict(saved)
        assert other.state == cb.state == AccumulationState(2)
        assert from_data(to_data(cb.state)) == cb.state
        assert cb.state_key == "GradientAccumulationScheduler"
