"""Tests of fhooks.core.votes: any_of, all_of."""

from __future__ import annotations

import pytest

from fhooks.core import Event, Log, Stop, all_of, any_of, fold, from_data, on, scan, shape, stateful, to_data
from fhooks.core.votes import VotesState
from fhooks.errors import InvalidArgument


def stop_from_1(event):
    return Stop("a") if event.epoch >= 1 else None


def stop_from_2(event):
    return [Stop("b"), Log({"b": 1.0})] if event.epoch >= 2 else Log({"b": 0.0})


def stop_at_1_only(event):
    return Stop("c") if event.epoch == 1 else None


a = on("validation_end", stop_from_1)
b = on("validation_end", stop_from_2)
c = on("validation_end", stop_at_1_only)
checks = [Event("validation_end", epoch=i) for i in range(4)]


def stops_per_event(hook, events=checks):
    return [tuple(e for e in out if type(e) is Stop) for _, out in scan(hook, events)]


class TestAnyOf:
    def test_stops_when_any_says_so(self):
        assert stops_per_event(any_of(a, c)) == [(), (Stop(("a", "c")),), (Stop("a"),), (Stop("a"),)]

    def test_other_effects_pass_through(self):
        assert fold(any_of(b), checks[1:3])[1] == (Log({"b": 0.0}), Log({"b": 1.0}), Stop("b"))

    def test_state_keeps_children_and_votes(self):
        state, _ = fold(any_of(a, c), checks[:2])
        assert state == VotesState((None, None), (("a",), ("c",)))
        assert from_data(to_data(state)) == state

    def test_reasons_are_of_this_event_only(self):
        early = on("validation_end", lambda e: Stop("val"))
        late = on("train_epoch_end", lambda e: Stop("epoch"))
        events = [Event("validation_end"), Event("train_epoch_end")]
        assert stops_per_event(any_of(early, late), events) == [(Stop("val"),), (Stop("epoch"),)]

    def test_needs_a_hook(self):
        with pytest.raises(InvalidArgument) as info:
            any_of()
        assert str(info.value) == "any_of: needs at least one hook, got none"

    def test_rejects_non_hook(self):
        with pytest.raises(InvalidArgument, match=r"^any_of: argument 1: expected a hook"):
            any_of(a, 3)

    def test_repr_and_shape(self):
        assert repr(any_of(a, c)) == (
            "any_of(on('validation_end', stop_from_1), on('validation_end', stop_at_1_only))"
        )
        counter = stateful(0, lambda n, e: (n + 1, None), name="counter")
        assert shape(any_of(counter, all_of(counter))) == "any_of(counter, all_of(counter))"


class TestAllOf:
    @pytest.mark.parametrize(
        ("hooks", "expected"),
        [
            ((a, b), [(), (), (Stop(("a", "b")),), (Stop(("a", "b")),)]),
            ((a, c), [(), (Stop(("a", "c")),), (), ()]),
            ((a,), [(), (Stop("a"),), (Stop("a"),), (Stop("a"),)]),
        ],
    )
    def test_stops_when_every_vote_stands(self, hooks, expected):
        assert stops_per_event(all_of(*hooks)) == expected

    def test_standing_vote_of_a_child_that_did_not_step(self):
        on_val = on("validation_end", lambda e: Stop("val") if e.epoch == 0 else None)
        on_epoch = on("train_epoch_end", lambda e: Stop("epoch"))
        events = [Event("validation_end"), Event("train_epoch_end"), Event("validation_end", epoch=1),
                  Event("train_epoch_end", epoch=1)]
        assert stops_per_event(all_of(on_val, on_epoch), events) == [(), (Stop(("val", "epoch")),), (), ()]

    def test_other_effects_pass_through(self):
        assert fold(all_of(a, b), checks[2:3])[1] == (Log({"b": 1.0}), Stop(("a", "b")))

    def test_kinds_are_the_union(self):
        assert all_of(a, on("fit_end", stop_from_1)).kinds == {"validation_end", "fit_end"}

    def test_needs_a_hook(self):
        with pytest.raises(InvalidArgument) as info:
            all_of()
        assert str(info.value) == "all_of: needs at least one hook, got none"

    def test_repr(self):
        assert repr(all_of(a)) == "all_of(on('validation_end', stop_from_1))"
