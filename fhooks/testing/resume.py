"""Check the resume law: stopping anywhere and resuming from the saved state changes nothing.

>>> from fhooks.core import Event, Stop, stateful
>>> count = stateful(0, lambda n, e: (n + 1, Stop("3") if n + 1 == 3 else None), kinds="train_epoch_end")
>>> stream = [Event("train_epoch_end", epoch=i) for i in range(4)]
>>> resume_split(count, stream, 2)
(4, (Stop('3'),))
>>> assert_resumes(count, stream, 2)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from fhooks.core.effects import Do, Effects
from fhooks.core.events import Event
from fhooks.core.fold import fold
from fhooks.core.hook import HookLike
from fhooks.core.serialize import from_data, stored_fields, to_data


def roundtrip(state: Any) -> Any:
    """``state`` through ``to_data`` -> ``json.dumps`` -> ``json.loads`` -> ``from_data``, as a checkpoint stores it.

    >>> from fhooks.core import frozendict
    >>> roundtrip((1, frozendict(best=float("inf"))))
    (1, frozendict({'best': inf}))
    """
    return from_data(json.loads(json.dumps(to_data(state))))


def resume_split(hook: HookLike, events: Sequence[Event], at: int) -> tuple[Any, Effects]:
    """Fold ``events[:at]``, round-trip the state through JSON, fold the rest from it.

    Returns the final state and all effects, to compare with ``fold(hook, events)``.
    """
    state, first = fold(hook, events[:at])
    state, rest = fold(hook, events[at:], roundtrip(state))
    return state, first + rest


def same(a: Any, b: Any) -> bool:
    """Value equality where NaN equals NaN and ``Do`` effects compare by label.

    Other values compare with their own ``==`` (a ``Raise`` by its error's type and
    args), then attrs values field by field, so a NaN inside a state compares equal
    (:func:`~fhooks.core.serialize.transient` fields left out: a checkpoint does not keep them).

    >>> from fhooks.core import Raise
    >>> same((float("nan"), {"a": [1.0]}), (float("nan"), {"a": [1.0]}))
    True
    >>> same(Raise(ValueError("x")), Raise(ValueError("x"))), same(Raise(ValueError("x")), Raise(KeyError("x")))
    (True, False)
    """
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if type(a) is Do and type(b) is Do:
        return a.label == b.label
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if a == b:  # a type's own equality first: Raise compares its error's type and args
        return True
    if type(a) is type(b) and attrs.has(type(a)) and not isinstance(a, Event):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in stored_fields(type(a)))
    return False


def assert_resumes(hook: HookLike, events: Sequence[Event], at: int) -> None:
    """Assert the resume law for one split point: same effects and final state as one uninterrupted fold.

    Also asserts the state at the split survives the JSON round trip unchanged.
    Effects and states are compared with :func:`same` (NaN equals NaN; ``Do`` by label).

    Raises:
        AssertionError: naming the split, the event there and what differs.
    """
    events = list(events)
    where = f"resume at {at} of {len(events)} events" + (f" (before {events[at]!r})" if at < len(events) else "")
    state, _ = fold(hook, events[:at])
    restored = roundtrip(state)
    assert same(restored, state), f"{where}: state changed in the JSON round trip:\n  {state!r}\n  {restored!r}"
    expected_state, expected = fold(hook, events)
    got_state, got = resume_split(hook, events, at)
    assert same(got, expected), f"{where}: effects differ\n  resumed:  {got!r}\n  one fold: {expected!r}"
    assert same(got_state, expected_state), (
        f"{where}: final states differ\n  resumed:  {got_state!r}\n  one fold: {expected_state!r}"
    )
