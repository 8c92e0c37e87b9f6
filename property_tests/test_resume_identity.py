"""Resume by hook identity: the same expression resumes to the same effects; an expression with hooks added or
removed gets back exactly the states of the hooks that match (equal identities in order), the others start fresh."""

from __future__ import annotations

import json
from collections import defaultdict

from hypothesis import given
from hypothesis import strategies as st

from fhooks.core import fold, sequence
from fhooks.core.identity import identity
from fhooks.core.serialize import from_data
from fhooks.testing import same
from fhooks.trainer.restore import _parts, hook_entry, matched_hook_state
from property_tests.strategies import POOL, expressions, streams


def saved(hook, state):
    """The entry as a checkpoint stores it (through JSON: plain data only)."""
    return json.loads(json.dumps(hook_entry(hook, state)))


@given(st.lists(expressions, min_size=1, max_size=4), streams, st.data())
def test_the_same_expression_resumes_to_the_same_effects(parts, events, data):
    hook = sequence(*parts)
    at = data.draw(st.integers(0, len(events)), label="at")
    middle, _ = fold(hook, events[:at])
    restored, notes = matched_hook_state(hook, saved(hook, middle), strict=True, where="checkpoint")
    assert notes == []
    assert same(restored, middle)
    assert same(fold(hook, events[at:], restored), fold(hook, events[at:], middle))
    assert same(fold(hook, events[at:], restored)[1], fold(hook, events)[1][len(fold(hook, events[:at])[1]):])


@given(st.lists(expressions, min_size=1, max_size=4), streams, st.data())
def test_added_and_removed_hooks_restore_exactly_the_matching_ones(parts, events, data):
    before = sequence(*parts)
    state, _ = fold(before, events[:data.draw(st.integers(0, len(events)), label="at")])
    old = _parts(before, state)
    kept = [p for p in old if data.draw(st.booleans(), label=f"keep {p[0]!r}")]
    current = [h for h, _ in kept]
    for _ in range(data.draw(st.integers(0, 2), label="added")):
        current.insert(data.draw(st.integers(0, len(current)), label="where"), data.draw(st.sampled_from(POOL)))
    if not current:
        current = [data.draw(st.sampled_from(POOL))]
    after = sequence(*current)
    restored, _ = matched_hook_state(after, saved(before, state), strict=False, where="checkpoint")

    # the k-th current hook of an identity gets the k-th saved state of that identity, if there is one
    by_identity = defaultdict(list)
    for hook, part_state in old:
        by_identity[identity(hook)].append(part_state)
    taken = defaultdict(int)
    expected = []
    for hook, _ in _parts(after, after.init):
        states, k = by_identity[identity(hook)], taken[identity(hook)]
        taken[identity(hook)] += 1
        expected.append(states[k] if k < len(states) else hook.init)
    got = restored if isinstance(restored, tuple) and len(_parts(after, after.init)) > 1 else (restored,)
    assert same(tuple(got), tuple(from_data(json.loads(json.dumps(_to(expected))))))


def _to(states):
    from fhooks.core.serialize import to_data

    return [to_data(s) for s in states]
