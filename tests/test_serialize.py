"""Tests of fhooks.core.serialize: hook state to plain data and back."""

from __future__ import annotations

import json
import math

import attrs
import pytest

from fhooks.core import from_data, frozendict, state_class, to_data
from fhooks.core.serialize import transient
from fhooks.errors import InvalidArgument


@state_class
class PointState:
    """A registered state class, for these tests."""

    best: float = math.inf
    wait: int = 0
    history: tuple[float, ...] = ()


@state_class
class ShownState:
    """A state with a field that lives only in the running process."""

    count: int = 0
    held: tuple[float, ...] = transient(())
    drawn_at: float = transient(-math.inf)


class Unregistered:
    pass


@attrs.frozen
class PlainAttrs:
    x: int = 0


class TestToData:
    @pytest.mark.parametrize(
        ("value", "data"),
        [
            (1, 1),
            (1.5, 1.5),
            ("a", "a"),
            (None, None),
            (True, True),
            ((1, 2), {"__tuple__": [1, 2]}),
            ((), {"__tuple__": []}),
            (frozendict(a=1), {"a": 1}),
            (frozendict({1: "x"}), {"__map__": [[1, "x"]]}),
            (frozendict({"__tuple__": 1}), {"__map__": [["__tuple__", 1]]}),
            (frozendict({(0, 1): 2.0}), {"__map__": [[{"__tuple__": [0, 1]}, 2.0]]}),
        ],
    )
    def test_plain_values(self, value, data):
        assert to_data(value) == data
        assert from_data(data) == value

    def test_state_class(self):
        data = to_data(PointState(1.0, 2, (0.5,)))
        assert data == {"__state__": f"{__name__}:PointState",
                        "fields": {"best": 1.0, "wait": 2, "history": {"__tuple__": [0.5]}}}
        assert from_data(data) == PointState(1.0, 2, (0.5,))

    @pytest.mark.parametrize("value", [[1, 2], {1, 2}, object(), Unregistered(), PlainAttrs()])
    def test_rejects_what_is_not_plain_data(self, value):
        with pytest.raises(InvalidArgument) as info:
            to_data(value)
        assert str(info.value) == (
            f"to_data: cannot store {value!r} of type {type(value).__name__} in hook state; use numbers, strings, "
            "tuples, mappings and @state_class classes"
        )

    def test_rejects_nested_bad_value(self):
        with pytest.raises(InvalidArgument, match=r"^to_data: cannot store \[1\] of type list"):
            to_data((1, frozendict(a=[1])))


class TestFromData:
    def test_lists_become_tuples_and_dicts_frozendicts(self):
        value = from_data({"a": [1, {"b": 2}]})
        assert value == {"a": (1, {"b": 2})}
        assert type(value) is frozendict and type(value["a"]) is tuple and type(value["a"][1]) is frozendict

    def test_unknown_state_class(self):
        with pytest.raises(InvalidArgument) as info:
            from_data({"__state__": "gone:OldState", "fields": {}})
        assert str(info.value) == "from_data: unknown state class 'gone:OldState'; is its module imported?"

    def test_unexpected_value(self):
        with pytest.raises(InvalidArgument) as info:
            from_data({"a": {1, 2}})
        assert str(info.value) == "from_data: unexpected set in stored hook state: {1, 2}"


class TestRoundTrip:
    @pytest.mark.parametrize(
        "state",
        [
            0,
            (1, None, "x"),
            PointState(),
            (PointState(-math.inf, 3), frozendict(best=PointState(2.0))),
            frozendict({0: (1.0, 2.0), 1: ()}),
            ((((),),),),
        ],
    )
    def test_through_json(self, state):
        assert from_data(json.loads(json.dumps(to_data(state)))) == state

    def test_nan_survives(self):
        back = from_data(json.loads(json.dumps(to_data(PointState(math.nan)))))
        assert math.isnan(back.best)


class TestStateClass:
    def test_makes_a_frozen_attrs_class(self):
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            PointState().wait = 1  # type: ignore[misc]
        assert attrs.has(PointState)

    def test_keeps_an_existing_attrs_class(self):
        @state_class
        @attrs.frozen
        class Counted:
            n: int = 0

        assert from_data(to_data(Counted(3))) == Counted(3)

    def test_returns_the_class(self):
        assert PointState.__name__ == "PointState"
        assert repr(PointState(1.0)) == "PointState(best=1.0, wait=0, history=())"


class TestTransientFields:
    def test_left_out_of_the_data_and_restored_as_their_defaults(self):
        state = ShownState(3, (0.5,), 12.0)
        data = to_data(state)
        assert data == {"__state__": f"{__name__}:ShownState", "fields": {"count": 3}}
        back = from_data(json.loads(json.dumps(data)))
        assert (back.count, back.held, back.drawn_at) == (3, (), -math.inf)

    def test_take_no_part_in_equality_so_the_resume_law_holds(self):
        state = ShownState(3, (0.5,), 12.0)
        assert from_data(to_data(state)) == state
        assert ShownState(3, (0.5,)) == ShownState(3) != ShownState(4, (0.5,))
        assert hash(ShownState(3, (0.5,))) == hash(ShownState(3))

    def test_unstorable_values_may_live_in_them(self):
        state = ShownState(1, (object(),))
        assert to_data(state) == {"__state__": f"{__name__}:ShownState", "fields": {"count": 1}}
