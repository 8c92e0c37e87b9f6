"""Tests of fhooks.core.frozendict."""

from __future__ import annotations

import copy
import pickle

import pytest

from fhooks.core import frozendict
from fhooks.core.frozendict import EMPTY

READ_ONLY = "frozendict is read-only: build a new one, e.g. frozendict(old, b=...)"


class TestFrozendict:
    def test_reads_like_a_dict(self):
        m = frozendict({"a": 1}, b=2)
        assert m["a"] == 1 and m.get("c") is None and list(m) == ["a", "b"] and len(m) == 2
        assert m == {"a": 1, "b": 2}
        assert isinstance(m, dict)

    @pytest.mark.parametrize(
        "mutate",
        [
            lambda m: m.__setitem__("a", 2),
            lambda m: m.__delitem__("a"),
            lambda m: m.clear(),
            lambda m: m.pop("a"),
            lambda m: m.popitem(),
            lambda m: m.setdefault("b", 1),
            lambda m: m.update(b=1),
            lambda m: m.__ior__({"b": 1}),
        ],
    )
    def test_refuses_mutation(self, mutate):
        m = frozendict(a=1)
        with pytest.raises(TypeError) as info:
            mutate(m)
        assert str(info.value) == READ_ONLY
        assert m == {"a": 1}

    def test_augmented_or_refused(self):
        m = frozendict(a=1)
        with pytest.raises(TypeError, match="read-only"):
            m |= {"b": 2}

    def test_new_from_old(self):
        old = frozendict(a=1)
        assert frozendict(old, b=2) == {"a": 1, "b": 2}
        assert old == {"a": 1}

    def test_hash_by_content(self):
        assert hash(frozendict(a=1, b=2)) == hash(frozendict(b=2, a=1))
        assert len({frozendict(a=1), frozendict(a=1)}) == 1

    def test_unhashable_values(self):
        with pytest.raises(TypeError):
            hash(frozendict(a=[1]))

    @pytest.mark.parametrize("dump", [pickle.dumps, lambda m: pickle.dumps(m, protocol=0)])
    def test_pickles(self, dump):
        m = frozendict(a=1, b=(2, 3))
        back = pickle.loads(dump(m))
        assert back == m and type(back) is frozendict

    def test_copies(self):
        m = frozendict(a=(1,))
        assert copy.deepcopy(m) == m and type(copy.deepcopy(m)) is frozendict
        assert copy.copy(m) == m

    def test_repr(self):
        assert repr(frozendict(a=1)) == "frozendict({'a': 1})"
        assert repr(EMPTY) == "frozendict({})"
