"""Tests of fhooks.core.effects: effect values, as_effects, merge_stops."""

from __future__ import annotations

import pickle

import attrs
import pytest

from fhooks.core import (
    Do,
    Effect,
    Log,
    Raise,
    RemoveCheckpoint,
    SaveCheckpoint,
    SetAccumulation,
    SetLearningRates,
    Stop,
    as_effects,
    merge_stops,
)
from fhooks.errors import InvalidArgument


class TestStop:
    @pytest.mark.parametrize(
        ("reason", "reasons", "text"),
        [
            ("patience", ("patience",), "Stop('patience')"),
            (("a", "b"), ("a", "b"), "Stop('a', 'b')"),
            (["a"], ("a",), "Stop('a')"),
        ],
    )
    def test_reasons(self, reason, reasons, text):
        stop = Stop(reason)
        assert stop.reasons == reasons
        assert repr(stop) == text

    def test_reason_joins(self):
        assert Stop(("a", "b")).reason == "a; b"

    def test_equal_by_value(self):
        assert Stop("a") == Stop(("a",))
        assert Stop("a") != Stop("b")
        assert hash(Stop("a")) == hash(Stop(("a",)))

    @pytest.mark.parametrize("bad", [(), ("a", 1), [None]])
    def test_bad_reason(self, bad):
        with pytest.raises(InvalidArgument) as info:
            Stop(bad)
        assert str(info.value) == f"Stop: reason must be a string or a non-empty tuple of strings, got {bad!r}"

    def test_non_iterable_reason(self):
        with pytest.raises(InvalidArgument, match=r"^Stop: reason must be a string"):
            Stop(3)  # type: ignore[arg-type]


class TestLog:
    def test_metrics_frozen_and_repr(self):
        source = {"acc": 0.5}
        log = Log(source, step=3)
        source["acc"] = 1.0
        assert log.metrics == {"acc": 0.5}
        assert repr(log) == "Log({'acc': 0.5}, step=3)"
        assert repr(Log({"acc": 0.5})) == "Log({'acc': 0.5})"

    def test_hashable_and_equal(self):
        assert Log({"a": 1.0}) == Log({"a": 1.0})
        assert len({Log({"a": 1.0}), Log({"a": 1.0})}) == 1
        assert Log({"a": 1.0}, step=1) != Log({"a": 1.0})


class TestValueEffects:
    @pytest.mark.parametrize(
        ("effect", "text"),
        [
            (SaveCheckpoint("a.ckpt"), "SaveCheckpoint(path='a.ckpt', weights_only=False)"),
            (RemoveCheckpoint("a.ckpt"), "RemoveCheckpoint(path='a.ckpt')"),
            (SetLearningRates([0.1, 0.2]), "SetLearningRates(lrs=(0.1, 0.2), optimizer_idx=0)"),
            (SetAccumulation(4), "SetAccumulation(factor=4)"),
        ],
    )
    def test_repr_and_pickle(self, effect, text):
        assert repr(effect) == text
        assert isinstance(effect, Effect)
        assert pickle.loads(pickle.dumps(effect)) == effect

    def test_frozen(self):
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            SaveCheckpoint("a").path = "b"  # type: ignore[misc]

    def test_raise_compares_error_type_and_args(self):
        assert Raise(ValueError("x")) == Raise(ValueError("x"))
        assert Raise(ValueError("x")) != Raise(TypeError("x"))
        assert Raise(ValueError("x")) != Raise(ValueError("y"))
        assert Raise(ValueError("x")) != Stop("x")

    def test_do_keeps_fn_and_label(self):
        calls = []
        do = Do(calls.append, "record")
        do.fn("ctx")
        assert calls == ["ctx"] and do.label == "record"


class TestAsEffects:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (None, ()),
            (Stop("x"), (Stop("x"),)),
            ([Stop("x"), Log({"a": 1.0})], (Stop("x"), Log({"a": 1.0}))),
            ((e for e in [Stop("x")]), (Stop("x"),)),
            ((), ()),
        ],
    )
    def test_normalises(self, value, expected):
        assert as_effects(value) == expected

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("x", "where: expected None, an Effect or an iterable of effects, got 'x'"),
            ({"a": 1}, "where: expected None, an Effect or an iterable of effects, got {'a': 1}"),
            (3, "where: expected None, an Effect or an iterable of effects, got 3"),
            ([Stop("a"), 3], "where: expected only Effect values, got 3 among (Stop('a'), 3)"),
        ],
    )
    def test_rejects(self, value, message):
        with pytest.raises(InvalidArgument) as info:
            as_effects(value, "where")
        assert str(info.value) == message


class TestMergeStops:
    @pytest.mark.parametrize(
        ("effects", "merged"),
        [
            ((), ()),
            ((Stop("a"),), (Stop("a"),)),
            ((Stop("a"), Stop("b")), (Stop(("a", "b")),)),
            ((Log({"x": 1.0}), Stop("a"), Log({"y": 2.0}), Stop(("b", "c"))),
             (Log({"x": 1.0}), Stop(("a", "b", "c")), Log({"y": 2.0}))),
            ((Stop("a"), Stop("a")), (Stop(("a", "a")),)),
        ],
    )
    def test_one_stop_at_the_first_place(self, effects, merged):
        assert merge_stops(effects) == merged

    def test_returns_input_when_nothing_to_merge(self):
        effects = (Stop("a"), Log({"x": 1.0}))
        assert merge_stops(effects) is effects
