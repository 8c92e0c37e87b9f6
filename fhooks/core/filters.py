"""Event filters over time, as Ignite's: every n-th, once, after k, until a predicate.

Counters are 1-based and count only the events the inner hook hears.

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
from fhooks.core.hook import HookLike, check_hook
from fhooks.core.serialize import state_class
from fhooks.errors import InvalidArgument


@state_class
class CountState:
    """How many heard events a filter has counted, and the inner hook's state."""

    count: int
    inner: Any


@attrs.frozen(repr=False)
class EveryN:
    """``hook`` sees the n-th, 2n-th, ... of the events it hears (or of ``kind``)."""

    n: int
    hook: HookLike
    kind: str | None = None
    shape_name = "every_n"

    children = When.children

    @property
    def init(self) -> CountState:
        return CountState(0, self.hook.init)

    @property
    def kinds(self) -> frozenset[str] | None:
        return frozenset((self.kind,)) if self.kind else self.hook.kinds

    def step(self, state: CountState, event: Event) -> tuple[CountState, Effects]:
        count = state.count + 1
        if count % self.n:
            return CountState(count, state.inner), NO_EFFECTS
        inner, effects = self.hook.step(state.inner, event)
        return CountState(count, inner), effects

    def __repr__(self) -> str:
        kind = f", kind={self.kind!r}" if self.kind else ""
        return f"every_n({self.n}, {self.hook!r}{kind})"


def every_n(n: int, hook: HookLike, *, kind: str | None = None) -> EveryN:
    """Let ``hook`` see only the n-th, 2n-th, ... event it hears; with ``kind``, of that kind only.

    Law: ``every_n(1, h)`` behaves as ``h``.

    >>> from fhooks.core import Event, Log, fold, on
    >>> log = on("train_batch_end", lambda e: Log({"step": e.step}))
    >>> fold(every_n(2, log), [Event("train_batch_end", step=i) for i in range(1, 6)])[1]
    (Log({'step': 2}), Log({'step': 4}))
    >>> every_n(0, log)
    Traceback (most recent call last):
    ...
    fhooks.errors.InvalidArgument: every_n: n=0 must be a positive int

    Raises:
        InvalidArgument: ``n`` is not a positive int, or ``hook`` never hears ``kind``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidArgument(f"every_n: n={n!r} must be a positive int")
    check_hook(hook, "every_n")
    if kind is not None:
        check_kind(kind, "every_n")
        if hook.kinds is not None and kind not in hook.kinds:
            raise InvalidArgument(f"every_n: {hook!r} never hears kind {kind!r} (it hears {', '.join(sorted(hook.kinds))})")
    return EveryN(n, hook, kind)


@attrs.frozen(repr=False)
class After:
    """``hook`` sees the events it hears after the first ``k`` of them."""

    k: int
    hook: HookLike
    shape_name = "after"

    children = When.children
    kinds = When.kinds
    init = EveryN.init

    def step(self, state: CountState, event: Event) -> tuple[CountState, Effects]:
        if state.count < self.k:
            return CountState(state.count + 1, state.inner), NO_EFFECTS
        inner, effects = self.hook.step(state.inner, event)
        return CountState(state.count, inner), effects

    def __repr__(self) -> str:
        return f"after({self.k}, {self.hook!r})"


def after(k: int, hook: HookLike) -> After:
    """Skip the first ``k`` events ``hook`` hears; let it see the rest. ``after(0, h)`` behaves as ``h``.

    >>> from fhooks.core import Event, Log, fold, on
    >>> log = on("train_epoch_end", lambda e: Log({"epoch": e.epoch}))
    >>> fold(after(2, log), [Event("train_epoch_end", epoch=i) for i in range(4)])[1]
    (Log({'epoch': 2}), Log({'epoch': 3}))
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise InvalidArgument(f"after: k={k!r} must be an int >= 0")
    return After(k, check_hook(hook, "after"))


@attrs.frozen(repr=False)
class Once:
    """``hook`` sees only the first event it hears."""

    hook: HookLike
    shape_name = "once"

    children = When.children
    kinds = When.kinds
    init = EveryN.init

    def step(self, state: CountState, event: Event) -> tuple[CountState, Effects]:
        if state.count:
            return state, NO_EFFECTS
        inner, effects = self.hook.step(state.inner, event)
        return CountState(1, inner), effects

    def __repr__(self) -> str:
        return f"once({self.hook!r})"


def once(hook: HookLike) -> Once:
    """Let ``hook`` see only the first event it hears.

    >>> from fhooks.core import Event, Log, fold, on
    >>> log = on("train_epoch_end", lambda e: Log({"epoch": e.epoch}))
    >>> fold(once(log), [Event("train_epoch_end", epoch=i) for i in range(4)])[1]
    (Log({'epoch': 0}),)
    """
    return Once(check_hook(hook, "once"))


@attrs.frozen(repr=False)
class Until:
    """``hook`` sees events until the first one for which ``pred`` holds, then none."""

    pred: Callable[[Event], bool]
    hook: HookLike
    shape_name = "until"

    children = When.children
    kinds = When.kinds
    init = EveryN.init

    def step(self, state: CountState, event: Event) -> tuple[CountState, Effects]:
        if state.count or self.pred(event):
            return (state if state.count else CountState(1, state.inner)), NO_EFFECTS
        inner, effects = self.hook.step(state.inner, event)
        return CountState(0, inner), effects

    def __repr__(self) -> str:
        return f"until({fn_name(self.pred)}, {self.hook!r})"


def until(pred: Callable[[Event], bool], hook: HookLike) -> Until:
    """Let ``hook`` see events until ``pred(event)`` first holds; from that event on, none.

    >>> from fhooks.core import Event, Log, fold, on
    >>> log = on("train_epoch_end", lambda e: Log({"epoch": e.epoch}))
    >>> fold(until(lambda e: e.epoch == 2, log), [Event("train_epoch_end", epoch=i) for i in range(4)])[1]
    (Log({'epoch': 0}), Log({'epoch': 1}))
    """
    return Until(check_callable(pred, "until", "pred"), check_hook(hook, "until"))
