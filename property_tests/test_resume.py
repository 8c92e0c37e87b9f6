"""The resume law: fold part of a stream, save the state as JSON, load it, fold the rest; nothing changes."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from fhooks.core import fold, scan, to_data
from fhooks.testing import assert_resumes, fit_streams, resume_split, roundtrip, same
from property_tests.strategies import POOL, expressions, streams


class TestResumeLaw:
    @given(expressions, streams, st.data())
    def test_random_expression_at_a_chosen_split(self, hook, events, data):
        at = data.draw(st.integers(0, len(events)), label="at")
        assert_resumes(hook, events, at)

    @given(st.sampled_from(POOL), fit_streams(max_epochs=3, max_batches=2, validation=None, sanity_check=None))
    def test_every_split_point_of_one_stream(self, hook, events):
        for at in range(len(events) + 1):
            assert_resumes(hook, events, at)

    @given(expressions, streams, st.lists(st.integers(0, 200), max_size=4))
    def test_several_resumes(self, hook, events, cuts):
        points = sorted({c % (len(events) + 1) for c in cuts})
        state, effects = hook.init, ()
        for start, end in zip([0, *points], [*points, len(events)]):
            state, out = fold(hook, events[start:end], roundtrip(state))
            effects += out
        expected_state, expected = fold(hook, events)
        assert same(effects, expected)
        assert same(state, expected_state)


class TestStateIsPlainData:
    @given(expressions, streams)
    def test_every_intermediate_state_is_json(self, hook, events):
        for state, _ in scan(hook, events):
            assert same(roundtrip(state), state)
            json.dumps(to_data(state))

    @given(expressions, streams, st.data())
    def test_resume_split_returns_the_fold(self, hook, events, data):
        at = data.draw(st.integers(0, len(events)), label="at")
        assert same(resume_split(hook, events, at), fold(hook, events))
