"""Tests of fhooks.core.fold: fold and scan."""

from __future__ import annotations

import pytest

from fhooks.core import Event, Hook, Stop, fold, scan, stateful
from fhooks.errors import InvalidArgument


def count(n, event):
    return n + 1, Stop("two") if n + 1 == 2 else None


counter = stateful(0, count, kinds="train_epoch_end", name="counter")
events = [Event("train_epoch_end", epoch=0), Event("fit_end"), Event("train_epoch_end", epoch=1),
          Event("train_epoch_end", epoch=2)]


class TestFold:
    def test_final_state_and_all_effects(self):
        assert fold(counter, events) == (3, (Stop("two"),))

    def test_empty_stream(self):
        assert fold(counter, []) == (0, ())

    def test_from_a_given_state(self):
        assert fold(counter, events[2:], 1) == (3, (Stop("two"),))
        assert fold(counter, [], 5) == (5, ())

    def test_state_none_is_a_state(self):
        def remember(state, event):
            return (state, event.epoch), ()

        assert fold(Hook(0, remember), events[:1], None) == ((None, 0), ())

    def test_skips_kinds_the_hook_does_not_hear(self):
        hook = Hook(0, lambda s, e: (s + 1, ()), kinds="fit_end")
        assert fold(hook, events) == (1, ())

    def test_consumes_any_iterable_once(self):
        assert fold(counter, iter(events)) == (3, (Stop("two"),))

    def test_rejects_non_hook(self):
        with pytest.raises(InvalidArgument) as info:
            fold(3, events)
        assert str(info.value) == (
            "fold: expected a hook (an object with init, step and kinds, e.g. from lambda_hook or a Callback), got 3"
        )

    def test_resume_law_on_an_example(self):
        middle, first = fold(counter, events[:2])
        assert fold(counter, events[2:], middle) == (3, tuple(first) + (Stop("two"),))


class TestScan:
    def test_one_pair_per_event(self):
        assert list(scan(counter, events)) == [(1, ()), (1, ()), (2, (Stop("two"),)), (3, ())]

    def test_is_lazy(self):
        def stream():
            yield events[0]
            raise AssertionError("read too far")

        steps = scan(counter, stream())
        assert next(steps) == (1, ())

    def test_from_a_given_state(self):
        assert list(scan(counter, events[:1], 1)) == [(2, (Stop("two"),))]

    def test_fold_is_its_last_state(self):
        steps = list(scan(counter, events))
        assert fold(counter, events) == (steps[-1][0], tuple(e for _, out in steps for e in out))

    def test_rejects_non_hook(self):
        with pytest.raises(InvalidArgument, match=r"^scan: expected a hook"):
            list(scan(None, events))
