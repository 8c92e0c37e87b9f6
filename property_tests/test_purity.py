"""Purity: stepping never changes its inputs, is deterministic, and hook values pickle."""

from __future__ import annotations

import pickle

from hypothesis import given

from fhooks.core import fold, scan, to_data
from fhooks.testing import same
from property_tests.strategies import expressions, streams


class TestStep:
    @given(expressions, streams)
    def test_does_not_change_its_inputs(self, hook, events):
        before = [repr(e) for e in events]
        state = hook.init
        for event in events:
            if hook.kinds is not None and event.kind not in hook.kinds:
                continue
            saved = to_data(state)
            new, _ = hook.step(state, event)
            assert same(to_data(state), saved), f"{hook!r} changed its state argument on {event!r}"
            state = new
        assert [repr(e) for e in events] == before

    @given(expressions, streams)
    def test_same_inputs_same_outputs(self, hook, events):
        state = hook.init
        for event in events:
            if hook.kinds is not None and event.kind not in hook.kinds:
                continue
            first, second = hook.step(state, event), hook.step(state, event)
            assert same(first, second), f"{hook!r} on {event!r}: {first!r} then {second!r}"
            state = first[0]

    @given(expressions, streams)
    def test_fold_twice_is_equal(self, hook, events):
        assert same(fold(hook, events), fold(hook, events))

    @given(expressions)
    def test_init_is_stable(self, hook):
        assert same(hook.init, hook.init)


class TestPickle:
    @given(expressions, streams)
    def test_round_trip(self, hook, events):
        copy = pickle.loads(pickle.dumps(hook))
        assert copy == hook
        assert repr(copy) == repr(hook)
        assert same(fold(copy, events), fold(hook, events))


class TestFoldScan:
    @given(expressions, streams)
    def test_fold_is_the_last_state_of_scan(self, hook, events):
        steps = list(scan(hook, events))
        state, effects = fold(hook, events)
        assert len(steps) == len(events)
        assert same(state, steps[-1][0] if steps else hook.init)
        assert same(effects, tuple(e for _, out in steps for e in out))

    @given(expressions, streams)
    def test_fold_resumes_from_a_given_state(self, hook, events):
        half = len(events) // 2
        state, first = fold(hook, events[:half])
        end, rest = fold(hook, events[half:], state)
        assert same((end, first + rest), fold(hook, events))
