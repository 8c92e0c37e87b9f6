"""Stop votes: combine the ``Stop`` decisions of several hooks.

>>> from fhooks.core.fold import fold
>>> from fhooks.core.events import Event
>>> from fhooks.core.combinators import on
>>> from fhooks.core.effects import Stop
>>> a = on("validation_end", lambda e: Stop("a") if e.epoch >= 1 else None)
>>> b = on("validation_end", lambda e: Stop("b") if e.epoch >= 2 else None)
>>> [fold(all_of(a, b), [Event("validation_end", epoch=i)])[1] for i in range(3)]
[(), (), (Stop('a', 'b'),)]
"""

from __future__ import annotations

from typing import Any

import attrs

from fhooks.core.combinators import _route, _union_kinds
from fhooks.core.effects import NO_EFFECTS, Effect, Effects, Stop, merge_stops
from fhooks.core.events import Event
from fhooks.core.hook import HookLike, check_hook
from fhooks.core.serialize import state_class
from fhooks.core.values import fields_eq, fields_hash, fields_repr
from fhooks.errors import InvalidArgument


@state_class
class VotesState:
    """Each child's state, and its standing vote: its stop reasons, or None."""

    __repr__ = fields_repr

    inner: tuple[Any, ...]
    votes: tuple[tuple[str, ...] | None, ...]


@attrs.frozen(repr=False)
class Votes:
    """Children step in order; their ``Stop``s count as votes, decided by ``need_all``."""

    __eq__, __hash__ = fields_eq, fields_hash

    children: tuple[HookLike, ...]
    need_all: bool
    _routes: dict[str, tuple[int, ...]] = attrs.field(init=False, eq=False, repr=False)
    kinds: frozenset[str] | None = attrs.field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_routes", _route(self.children))
        object.__setattr__(self, "kinds", _union_kinds(self.children))

    @property
    def shape_name(self) -> str:
        return "all_of" if self.need_all else "any_of"

    @property
    def init(self) -> VotesState:
        return VotesState(tuple(h.init for h in self.children), (None,) * len(self.children))

    def step(self, state: VotesState, event: Event) -> tuple[VotesState, Effects]:
        positions = self._routes[event.kind]
        if not positions:
            return state, NO_EFFECTS
        inner, votes = list(state.inner), list(state.votes)
        passed: list[Effect] = []
        voted = False
        for i in positions:
            inner[i], effects = self.children[i].step(inner[i], event)
            stops = [e for e in effects if type(e) is Stop]
            votes[i] = tuple(r for s in stops for r in s.reasons) if stops else None
            voted = voted or bool(stops)
            passed.extend(e for e in effects if type(e) is not Stop)
        if voted and (all(votes) if self.need_all else True):
            standing = votes if self.need_all else [votes[i] for i in positions]
            passed.append(Stop(tuple(r for v in standing if v for r in v)))
        return VotesState(tuple(inner), tuple(votes)), merge_stops(tuple(passed))

    def __repr__(self) -> str:
        return f"{self.shape_name}({', '.join(map(repr, self.children))})"


def _votes(hooks: tuple[HookLike, ...], need_all: bool) -> Votes:
    where = "all_of" if need_all else "any_of"
    if not hooks:
        raise InvalidArgument(f"{where}: needs at least one hook, got none")
    return Votes(tuple(check_hook(h, f"{where}: argument {i}") for i, h in enumerate(hooks)), need_all)


def any_of(*hooks: HookLike) -> Votes:
    """Stop as soon as any of ``hooks`` asks to; their other effects pass through.

    >>> from fhooks.core import Event, fold, on
    >>> too_slow = on("validation_end", lambda e: Stop("too slow") if e.time > 60 else None)
    >>> good_enough = on("validation_end", lambda e: Stop("good enough") if e.metrics["val_acc"] > 0.9 else None)
    >>> fold(any_of(too_slow, good_enough), [Event("validation_end", time=70.0, metrics={"val_acc": 0.95})])[1]
    (Stop('too slow', 'good enough'),)
    """
    return _votes(hooks, need_all=False)


def all_of(*hooks: HookLike) -> Votes:
    """Stop once every one of ``hooks`` stands on a stop vote.

    A child's vote is what it said the last time it stepped: a ``Stop`` sets it,
    a step without one clears it. Other effects pass through.

    >>> from fhooks.core import Event, on, scan
    >>> plateau = on("validation_end", lambda e: Stop("plateau") if e.metrics["val_loss"] > 0.4 else None)
    >>> late = on("validation_end", lambda e: Stop("epoch >= 2") if e.epoch >= 2 else None)
    >>> stream = [Event("validation_end", epoch=i, metrics={"val_loss": v}) for i, v in enumerate([0.5, 0.3, 0.5])]
    >>> [effects for _, effects in scan(all_of(plateau, late), stream)]
    [(), (), (Stop('plateau', 'epoch >= 2'),)]
    """
    return _votes(hooks, need_all=True)
