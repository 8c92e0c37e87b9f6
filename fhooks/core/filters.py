"""Event filters over time, as Ignite's: every n-th, once, after k, until a predicate.

Counters are 1-based. A filter counts one event kind: the one its inner hook
hears, or ``kind=``, which is required when the hook hears several kinds (a
``model_checkpoint`` hears ``setup``, ``train_epoch_end``, ``validation_end``...).
Events of the hook's other kinds reach it unfiltered, so it still sets itself
up and finishes; only the counted kind is thinned.

>>> from fhooks.core.fold import fold
>>> from fhooks.core.events import Event
>>> from fhooks.core.combinators import on
>>> from fhooks.core.effects import Log
>>> log = on("train_epoch_end", lambda e: Log({"epoch": e.epoch}))
>>> fold(every_n(2, log), [Event("train_epoch_end", epoch=i) for i in range(5)])[1]
(Log({'epoch': 1}), Log({'epoch': 3}))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from fhooks.core.combinators import When, check_callable, fn_name
from fhooks.core.effects import NO_EFFECTS, Effects
from fhooks.core.events import Event, check_kind
from fhooks.core.hook import HookLike, Step, check_hook, fold_step_for, from_fold_state, step_for, to_fold_state
from fhooks.core.serialize import state_class
from fhooks.core.values import fields_eq, fields_hash, fields_repr
from fhooks.errors import InvalidArgument


def counted_kind(hook: HookLike, kind: str | None, call: str) -> str | None:
    """The event kind a filter over ``hook`` counts: ``kind``, else the one kind ``hook`` hears.

    ``call`` is the filter's call as the user would write it, e.g. ``"every_n(2, hook, kind=...)"``.

    >>> from fhooks.core import on
    >>> counted_kind(on("fit_end", print), None, "once(hook, kind=...)")
    'fit_end'
    >>> counted_kind(on(["fit_start", "fit_end"], print), None, "once(hook, kind=...)")
    Traceback (most recent call last):
    ...
    fhooks.errors.InvalidArgument: once: ... hears several event kinds (fit_end, fit_start); ... once(hook, kind='fit_end')

    Raises:
        InvalidArgument: ``kind`` is unknown or never heard by ``hook``, or ``kind`` is
            None and ``hook`` hears several kinds (or every kind).
    """
    where = call.partition("(")[0]
    kinds = hook.kinds
    if kind is not None:
        check_kind(kind, where)
        if kinds is not None and kind not in kinds:
            raise InvalidArgument(f"{where}: {hook!r} never hears kind {kind!r} (it hears {', '.join(sorted(kinds))})")
        return kind
    if kinds is not None and len(kinds) <= 1:
        return next(iter(kinds), None)
    hears = "every event kind" if kinds is None else f"several event kinds ({', '.join(sorted(kinds))})"
    example = "train_epoch_end" if kinds is None or "train_epoch_end" in kinds else min(kinds)
    raise InvalidArgument(f"{where}: {hook!r} hears {hears}; "
                          f"say which one to count: {call.replace('...', repr(example))}")


def _kind_repr(hook: HookLike, kind: str | None) -> str:
    """``, kind='...'`` when the hook hears more than the counted kind, else nothing."""
    return "" if kind is None or hook.kinds == {kind} else f", kind={kind!r}"


@state_class
class CountState:
    """How many heard events a filter has counted, and the inner hook's state."""

    __repr__ = fields_repr

    count: int
    inner: Any


def _count_state(count: int, inner: Any, new: Any = object.__new__, cls: type = CountState,
                 set_count: Any = CountState.count.__set__, set_inner: Any = CountState.inner.__set__) -> CountState:  # type: ignore[attr-defined]
    """``CountState(count, inner)`` at about half the cost: its slots set directly (it has no validators)."""
    state = new(cls)
    set_count(state, count)
    set_inner(state, inner)
    return state


def _passing(inner: Step | None) -> Step | None:
    """A filter's step for a kind it does not count: ``inner`` on the wrapped state, the count kept."""
    if inner is None:
        return None

    def step(state: CountState, event: Event) -> tuple[CountState, Effects]:
        new, effects = inner(state.inner, event)
        return _count_state(state.count, new), effects

    return step


def _passing_fold(inner: Step | None) -> Step | None:
    """:func:`_passing` over a filter's fold state, the tuple ``(count, inner's fold state)``."""
    if inner is None:
        return None

    def step(state: tuple[int, Any], event: Event) -> tuple[tuple[int, Any], Effects]:
        new, effects = inner(state[1], event)
        return (state[0], new), effects

    return step


class FoldState:
    """A filter's fold state: the pair ``(count, inner's fold state)``, one tuple per event instead of a ``CountState``.

    >>> from fhooks.core import on
    >>> counted = once(on("fit_end", print))
    >>> counted.to_fold_state(CountState(1, None)), counted.from_fold_state((1, None))
    ((1, None), CountState(count=1, inner=None))
    """

    __slots__ = ()

    def to_fold_state(self, state: CountState) -> tuple[int, Any]:
        return state.count, to_fold_state(self.hook, state.inner)  # type: ignore[attr-defined]

    def from_fold_state(self, state: tuple[int, Any]) -> CountState:
        return _count_state(state[0], from_fold_state(self.hook, state[1]))  # type: ignore[attr-defined]


@attrs.frozen(repr=False)
class EveryN(FoldState):
    """``hook`` sees the n-th, 2n-th, ... event of ``kind``, and every event of its other kinds."""

    __eq__, __hash__ = fields_eq, fields_hash

    n: int
    hook: HookLike
    kind: str | None = None
    shape_name = "every_n"

    children = When.children
    kinds = When.kinds

    @property
    def init(self) -> CountState:
        return CountState(0, self.hook.init)

    def step(self, state: CountState, event: Event) -> tuple[CountState, Effects]:
        count = state.count
        if event.kind == self.kind:
            count += 1
            if count % self.n:
                return CountState(count, state.inner), NO_EFFECTS
        inner, effects = self.hook.step(state.inner, event)
        return CountState(count, inner), effects

    def step_for(self, kind: str) -> Step | None:
        inner, n = step_for(self.hook, kind), self.n
        if inner is None or kind != self.kind:
            return _passing(inner)

        def step(state: CountState, event: Event) -> tuple[CountState, Effects]:
            count = state.count + 1
            if count % n:
                return _count_state(count, state.inner), NO_EFFECTS
            new, effects = inner(state.inner, event)
            return _count_state(count, new), effects

        return step

    def fold_step_for(self, kind: str) -> Step | None:
        inner, n = fold_step_for(self.hook, kind), self.n
        if inner is None or kind != self.kind:
            return _passing_fold(inner)

        def step(state: tuple[int, Any], event: Event) -> tuple[tuple[int, Any], Effects]:
            count = state[0] + 1
            if count % n:
                return (count, state[1]), NO_EFFECTS
            new, effects = inner(state[1], event)
            return (count, new), effects

        return step

    def __repr__(self) -> str:
        return f"every_n({self.n}, {self.hook!r}{_kind_repr(self.hook, self.kind)})"


def every_n(n: int, hook: HookLike, *, kind: str | None = None) -> EveryN:
    """Let ``hook`` see only the n-th, 2n-th, ... event of ``kind`` (default: the one kind it hears).

    Events of the hook's other kinds pass unfiltered. Laws: ``every_n(1, h, kind=k)``
    behaves as ``h``; ``every_n(m, every_n(n, h, kind=k), kind=k)`` as ``every_n(m * n, h, kind=k)``.

    >>> from fhooks.core import Event, Log, fold, on
    >>> log = on("train_batch_end", lambda e: Log({"step": e.step}))
    >>> fold(every_n(2, log), [Event("train_batch_end", step=i) for i in range(1, 6)])[1]
    (Log({'step': 2}), Log({'step': 4}))
    >>> every_n(0, log)
    Traceback (most recent call last):
    ...
    fhooks.errors.InvalidArgument: every_n: n=0 must be a positive int

    A hook that hears several kinds needs ``kind=``:

    >>> from fhooks.hooks import model_checkpoint
    >>> every_n(2, model_checkpoint(monitor="val_loss"))
    Traceback (most recent call last):
    ...
    fhooks.errors.InvalidArgument: every_n: ... hears several event kinds (...); ... every_n(2, hook, kind='train_epoch_end')
    >>> every_n(2, model_checkpoint(monitor="val_loss"), kind="train_epoch_end")  # saves at every 2nd epoch end
    every_n(2, model_checkpoint(monitor='val_loss'), kind='train_epoch_end')

    Raises:
        InvalidArgument: ``n`` is not a positive int; ``hook`` never hears ``kind``;
            ``kind`` is missing and ``hook`` hears several kinds.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidArgument(f"every_n: n={n!r} must be a positive int")
    check_hook(hook, "every_n")
    return EveryN(n, hook, counted_kind(hook, kind, f"every_n({n}, hook, kind=...)"))


@attrs.frozen(repr=False)
class After(FoldState):
    """``hook`` sees the events of ``kind`` after the first ``k`` of them, and every event of its other kinds."""

    __eq__, __hash__ = fields_eq, fields_hash

    k: int
    hook: HookLike
    kind: str | None = None
    shape_name = "after"

    children = When.children
    kinds = When.kinds
    init = EveryN.init

    def step(self, state: CountState, event: Event) -> tuple[CountState, Effects]:
        if event.kind == self.kind and state.count < self.k:
            return CountState(state.count + 1, state.inner), NO_EFFECTS
        inner, effects = self.hook.step(state.inner, event)
        return CountState(state.count, inner), effects

    def step_for(self, kind: str) -> Step | None:
        inner, k = step_for(self.hook, kind), self.k
        if inner is None or kind != self.kind:
            return _passing(inner)

        def step(state: CountState, event: Event) -> tuple[CountState, Effects]:
            if state.count < k:
                return _count_state(state.count + 1, state.inner), NO_EFFECTS
            new, effects = inner(state.inner, event)
            return _count_state(state.count, new), effects

        return step

    def fold_step_for(self, kind: str) -> Step | None:
        inner, k = fold_step_for(self.hook, kind), self.k
        if inner is None or kind != self.kind:
            return _passing_fold(inner)

        def step(state: tuple[int, Any], event: Event) -> tuple[tuple[int, Any], Effects]:
            if state[0] < k:
                return (state[0] + 1, state[1]), NO_EFFECTS
            new, effects = inner(state[1], event)
            return (state[0], new), effects

        return step

    def __repr__(self) -> str:
        return f"after({self.k}, {self.hook!r}{_kind_repr(self.hook, self.kind)})"


def after(k: int, hook: HookLike, *, kind: str | None = None) -> After:
    """Skip the first ``k`` events of ``kind`` (default: the one kind ``hook`` hears); let it see the rest.

    Events of the hook's other kinds pass unfiltered. Laws: ``after(0, h, kind=k)`` behaves
    as ``h``; ``after(j, after(i, h, kind=k), kind=k)`` as ``after(j + i, h, kind=k)``.

    >>> from fhooks.core import Event, Log, fold, on
    >>> log = on("train_epoch_end", lambda e: Log({"epoch": e.epoch}))
    >>> fold(after(2, log), [Event("train_epoch_end", epoch=i) for i in range(4)])[1]
    (Log({'epoch': 2}), Log({'epoch': 3}))

    Raises:
        InvalidArgument: ``k`` is not an int >= 0; ``hook`` never hears ``kind``;
            ``kind`` is missing and ``hook`` hears several kinds.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise InvalidArgument(f"after: k={k!r} must be an int >= 0")
    check_hook(hook, "after")
    return After(k, hook, counted_kind(hook, kind, f"after({k}, hook, kind=...)"))


@attrs.frozen(repr=False)
class Once(FoldState):
    """``hook`` sees only the first event of ``kind``, and every event of its other kinds."""

    __eq__, __hash__ = fields_eq, fields_hash

    hook: HookLike
    kind: str | None = None
    shape_name = "once"

    children = When.children
    kinds = When.kinds
    init = EveryN.init

    def step(self, state: CountState, event: Event) -> tuple[CountState, Effects]:
        count = state.count
        if event.kind == self.kind:
            if count:
                return state, NO_EFFECTS
            count = 1
        inner, effects = self.hook.step(state.inner, event)
        return CountState(count, inner), effects

    def step_for(self, kind: str) -> Step | None:
        inner = step_for(self.hook, kind)
        if inner is None or kind != self.kind:
            return _passing(inner)

        def step(state: CountState, event: Event) -> tuple[CountState, Effects]:
            if state.count:
                return state, NO_EFFECTS
            new, effects = inner(state.inner, event)
            return _count_state(1, new), effects

        return step

    def fold_step_for(self, kind: str) -> Step | None:
        inner = fold_step_for(self.hook, kind)
        if inner is None or kind != self.kind:
            return _passing_fold(inner)

        def step(state: tuple[int, Any], event: Event) -> tuple[tuple[int, Any], Effects]:
            if state[0]:
                return state, NO_EFFECTS
            new, effects = inner(state[1], event)
            return (1, new), effects

        return step

    def __repr__(self) -> str:
        return f"once({self.hook!r}{_kind_repr(self.hook, self.kind)})"


def once(hook: HookLike, *, kind: str | None = None) -> Once:
    """Let ``hook`` see only the first event of ``kind`` (default: the one kind it hears).

    Events of the hook's other kinds pass unfiltered. Law: ``once(once(h, kind=k), kind=k)``
    behaves as ``once(h, kind=k)``.

    >>> from fhooks.core import Event, Log, fold, on
    >>> log = on("train_epoch_end", lambda e: Log({"epoch": e.epoch}))
    >>> fold(once(log), [Event("train_epoch_end", epoch=i) for i in range(4)])[1]
    (Log({'epoch': 0}),)

    Raises:
        InvalidArgument: ``hook`` never hears ``kind``; ``kind`` is missing and ``hook`` hears several kinds.
    """
    check_hook(hook, "once")
    return Once(hook, counted_kind(hook, kind, "once(hook, kind=...)"))


@attrs.frozen(repr=False)
class Until(FoldState):
    """``hook`` sees events of ``kind`` until the first one for which ``pred`` holds, then none of them.

    Events of the hook's other kinds pass unfiltered.
    """

    __eq__, __hash__ = fields_eq, fields_hash

    pred: Callable[[Event], bool]
    hook: HookLike
    kind: str | None = None
    shape_name = "until"

    children = When.children
    kinds = When.kinds
    init = EveryN.init

    def step(self, state: CountState, event: Event) -> tuple[CountState, Effects]:
        count = state.count
        if event.kind == self.kind and (count or self.pred(event)):
            return (state if count else CountState(1, state.inner)), NO_EFFECTS
        inner, effects = self.hook.step(state.inner, event)
        return CountState(count, inner), effects

    def step_for(self, kind: str) -> Step | None:
        inner, pred = step_for(self.hook, kind), self.pred
        if inner is None or kind != self.kind:
            return _passing(inner)

        def step(state: CountState, event: Event) -> tuple[CountState, Effects]:
            if state.count:
                return state, NO_EFFECTS
            if pred(event):
                return _count_state(1, state.inner), NO_EFFECTS
            new, effects = inner(state.inner, event)
            return _count_state(0, new), effects

        return step

    def fold_step_for(self, kind: str) -> Step | None:
        inner, pred = fold_step_for(self.hook, kind), self.pred
        if inner is None or kind != self.kind:
            return _passing_fold(inner)

        def step(state: tuple[int, Any], event: Event) -> tuple[tuple[int, Any], Effects]:
            if state[0]:
                return state, NO_EFFECTS
            if pred(event):
                return (1, state[1]), NO_EFFECTS
            new, effects = inner(state[1], event)
            return (0, new), effects

        return step

    def __repr__(self) -> str:
        return f"until({fn_name(self.pred)}, {self.hook!r}{_kind_repr(self.hook, self.kind)})"


def until(pred: Callable[[Event], bool], hook: HookLike, *, kind: str | None = None) -> Until:
    """Let ``hook`` see events of ``kind`` (default: the one kind it hears) until ``pred(event)`` first holds.

    From that event on it sees none of that kind; ``pred`` is asked only about events of
    ``kind``, and the hook's other kinds pass unfiltered. Laws: ``until(never, h, kind=k)``
    behaves as ``h``; ``until(always, h)`` is silent for a hook that hears one kind.

    >>> from fhooks.core import Event, Log, fold, on
    >>> log = on("train_epoch_end", lambda e: Log({"epoch": e.epoch}))
    >>> fold(until(lambda e: e.epoch == 2, log), [Event("train_epoch_end", epoch=i) for i in range(4)])[1]
    (Log({'epoch': 0}), Log({'epoch': 1}))

    Raises:
        InvalidArgument: ``pred`` is not callable; ``hook`` never hears ``kind``;
            ``kind`` is missing and ``hook`` hears several kinds.
    """
    check_callable(pred, "until", "pred")
    check_hook(hook, "until")
    return Until(pred, hook, counted_kind(hook, kind, "until(pred, hook, kind=...)"))
