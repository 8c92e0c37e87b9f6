"""The per-kind dispatch (``step_for``) behaves exactly as stepping the expression node by node.

The reference below steps every node through its own ``step`` with each child replaced by a
stand-in that steps the child the same way, and routes a sequence by asking each child whether
it hears the kind: no per-kind step anywhere. ``scan`` (which uses the per-kind steps) must give
the same state and effects after every event of every generated stream, and ``fold`` (which steps
the fold states of ``fold_step_for``) the same final state and effects.
"""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import given

from fhooks.core import Event, fold, merge_stops, scan
from fhooks.core.combinators import Sequence
from fhooks.core.hook import children, fold_step_for, listens, step_for
from fhooks.core.votes import Votes
from fhooks.testing import same
from property_tests.strategies import expressions, streams


@attrs.frozen
class StandIn:
    """A child stepped by :func:`reference`; it has no ``step_for``, so no per-kind step is made for it."""

    hook: Any

    @property
    def init(self) -> Any:
        return self.hook.init

    @property
    def kinds(self) -> frozenset[str] | None:
        return self.hook.kinds

    def step(self, state: Any, event: Event) -> tuple[Any, tuple[Any, ...]]:
        return reference(self.hook, state, event)


def reference(hook: Any, state: Any, event: Event) -> tuple[Any, tuple[Any, ...]]:
    if isinstance(hook, Sequence):
        new, effects = list(state), ()
        for i, child in enumerate(hook.children):
            if listens(child, event.kind):
                new[i], out = reference(child, state[i], event)
                effects += out
        return tuple(new), merge_stops(effects) if len(effects) > 1 else effects
    if isinstance(hook, Votes):
        return attrs.evolve(hook, children=tuple(map(StandIn, hook.children))).step(state, event)
    if children(hook):
        return attrs.evolve(hook, hook=StandIn(hook.hook)).step(state, event)
    return hook.step(state, event)


def reference_scan(hook: Any, events: list[Event]) -> list[tuple[Any, tuple[Any, ...]]]:
    state, out = hook.init, []
    for event in events:
        if listens(hook, event.kind):
            state, effects = reference(hook, state, event)
        else:
            effects = ()
        out.append((state, effects))
    return out


@given(expressions, streams)
def test_scan_matches_the_node_by_node_reference(hook, events):
    got, expected = list(scan(hook, events)), reference_scan(hook, events)
    for i, (x, y) in enumerate(zip(got, expected)):
        assert same(x, y), f"{hook!r} differs at event {i} {events[i]!r}:\n  {x!r}\n  {y!r}"


@given(expressions, streams)
def test_fold_matches_the_node_by_node_reference(hook, events):
    expected = reference_scan(hook, events)
    state, effects = fold(hook, events)
    assert same(state, expected[-1][0] if expected else hook.init)
    assert same(effects, tuple(e for _, out in expected for e in out))


@given(expressions, streams)
def test_a_kind_not_heard_has_no_step(hook, events):
    for kind in {e.kind for e in events}:
        assert (step_for(hook, kind) is None) == (not listens(hook, kind))
        assert (fold_step_for(hook, kind) is None) == (not listens(hook, kind))
