"""Combinators that build one hook expression out of several hooks.

Configuration comes first and the hook last: ``when(pred, hook)``. Every
combinator is a small frozen value whose ``repr`` reads like the expression.

>>> from fhooks.core.fold import fold
>>> from fhooks.core.events import Event
>>> from fhooks.core.effects import Log
>>> log = on("train_epoch_end", lambda e: Log({"epoch": e.epoch}))
>>> fold(sequence(log, when(lambda e: e.epoch > 0, log)), [Event("train_epoch_end", epoch=1)])[1]
(Log({'epoch': 1}), Log({'epoch': 1}))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import attrs

from fhooks.core.effects import NO_EFFECTS, Effect, EffectLike, Effects, as_effects, merge_stops
from fhooks.core.events import EVENT_KINDS, Event, check_kinds
from fhooks.core.hook import (
    HookLike,
    Step,
    StepTable,
    check_hook,
    fold_step_for,
    from_fold_state,
    listens,
    step_for,
    to_fold_state,
)
from fhooks.core.values import fields_eq, fields_hash
from fhooks.errors import InvalidArgument


def fn_name(fn: Any) -> str:
    """A short readable name for a user function, for reprs."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return name.rpartition("<locals>.")[2]


def check_callable(value: Any, where: str, expected: str) -> Callable[..., Any]:
    """Return ``value`` if callable, else raise an error that says what was expected."""
    if not callable(value):
        raise InvalidArgument(f"{where}: {expected} must be callable, got {value!r}")
    return value


def _union_kinds(hooks: Iterable[HookLike]) -> frozenset[str] | None:
    kinds: set[str] = set()
    for hook in hooks:
        if hook.kinds is None:
            return None
        kinds |= hook.kinds
    return frozenset(kinds)


def _route(hooks: tuple[HookLike, ...]) -> dict[str, tuple[int, ...]]:
    """For each event kind, the positions of the hooks that hear it."""
    return {kind: tuple(i for i, h in enumerate(hooks) if listens(h, kind)) for kind in EVENT_KINDS}


#: Sequences up to this many children get their per-kind steps written out as straight-line code.
_STRAIGHT_LINE_WIDTH = 64


def _straight_line(steps: tuple[tuple[int, Step], ...], width: int) -> Step:
    """A sequence's step for one kind, written out without a loop: each listed child stepped in turn.

    ``steps`` pairs each position that hears the kind with its step; the other positions keep
    their state. For ``((0, f0), (2, f2))`` in a sequence of 3 the code reads::

        def step(state, event):
            s0, effects = f0(state[0], event)
            s2, out = f2(state[2], event)
            if out:
                effects = effects + out if effects else out
            return (s0, state[1], s2), merge_stops(effects) if len(effects) > 1 else effects

    >>> step = _straight_line(((0, lambda s, e: (s + 1, ())), (2, lambda s, e: (s * 2, ("x",)))), 3)
    >>> step((1, 5, 3), None)
    ((2, 5, 6), ('x',))
    """
    heard = {i for i, _ in steps}
    first, *rest = steps
    lines = ["def step(state, event):", f"    s{first[0]}, effects = f{first[0]}(state[{first[0]}], event)"]
    for i, _ in rest:
        lines += [f"    s{i}, out = f{i}(state[{i}], event)", "    if out:",
                  "        effects = effects + out if effects else out"]
    new = "".join(f"s{i}, " if i in heard else f"state[{i}], " for i in range(width))
    lines.append(f"    return ({new}), merge_stops(effects) if len(effects) > 1 else effects")  # one effect: nothing to merge
    namespace: dict[str, Any] = {f"f{i}": step for i, step in steps}
    namespace["merge_stops"] = merge_stops
    exec("\n".join(lines), namespace)  # noqa: S102 (code made here from positions only)
    return namespace["step"]


@attrs.frozen(repr=False)
class Sequence:
    """Every hook sees every event it hears, in order; effects concatenate; state is a tuple.

    Each event kind gets its own step the first time it is seen: it visits only the
    children that hear that kind, through their own per-kind steps (see ``step_for``).
    Its fold state is the tuple of its children's fold states.
    """

    __eq__, __hash__ = fields_eq, fields_hash

    children: tuple[HookLike, ...]
    shape_name = "sequence"
    _steps: StepTable = attrs.field(init=False, eq=False, repr=False)
    _fold_steps: StepTable = attrs.field(init=False, eq=False, repr=False)
    kinds: frozenset[str] | None = attrs.field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_steps", StepTable(self, partial(self._compile, child_step=step_for)))
        object.__setattr__(self, "_fold_steps", StepTable(self, partial(self._compile, child_step=fold_step_for)))
        object.__setattr__(self, "kinds", _union_kinds(self.children))

    @property
    def init(self) -> tuple[Any, ...]:
        return tuple(h.init for h in self.children)

    def step(self, state: tuple[Any, ...], event: Event) -> tuple[tuple[Any, ...], Effects]:
        step = self._steps[event.kind]
        return (state, NO_EFFECTS) if step is None else step(state, event)

    def step_for(self, kind: str) -> Step | None:
        """The step for events of ``kind``: only the children that hear it, in order; None if none does."""
        return self._steps[kind]

    def fold_step_for(self, kind: str) -> Step | None:
        return self._fold_steps[kind]

    def to_fold_state(self, state: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(to_fold_state(h, s) for h, s in zip(self.children, state))

    def from_fold_state(self, state: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(from_fold_state(h, s) for h, s in zip(self.children, state))

    def _compile(self, kind: str, child_step: Callable[[HookLike, str], Step | None]) -> Step | None:
        steps = tuple((i, step) for i, step in enumerate(child_step(h, kind) for h in self.children) if step is not None)
        if not steps:
            return None
        if len(self.children) <= _STRAIGHT_LINE_WIDTH:
            return _straight_line(steps, len(self.children))

        def step_all(state: tuple[Any, ...], event: Event) -> tuple[tuple[Any, ...], Effects]:
            new = list(state)
            effects: Effects = NO_EFFECTS
            for i, step in steps:
                new[i], out = step(state[i], event)
                if out:
                    effects = effects + out if effects else out
            return tuple(new), merge_stops(effects) if len(effects) > 1 else effects

        return step_all

    def __repr__(self) -> str:
        return f"sequence({', '.join(map(repr, self.children))})"


def sequence(*hooks: HookLike) -> HookLike:
    """Run ``hooks`` in order on every event; nested sequences are flattened when built.

    ``sequence()`` is the identity and ``sequence(h)`` is ``h``, so
    ``sequence(a, sequence(b, c)) == sequence(sequence(a, b), c)`` exactly.
    Two ``Stop``s on one event merge into one that keeps both reasons.

    >>> from fhooks.core import Event, Stop, fold
    >>> a = stateful(0, lambda n, e: (n + 1, Stop("a")), name="a")
    >>> b = stateful(0, lambda n, e: (n + 1, None), name="b")
    >>> sequence(a, sequence(b, a))
    sequence(a, b, a)
    >>> fold(sequence(a, sequence(b, a)), [Event("fit_end")] * 2)  # each position keeps its own state
    ((2, 2, 2), (Stop('a', 'a'), Stop('a', 'a')))
    """
    flat: list[HookLike] = []
    for i, hook in enumerate(hooks):
        check_hook(hook, f"sequence: argument {i}")
        flat.extend(hook.children if isinstance(hook, Sequence) else (hook,))
    return flat[0] if len(flat) == 1 else Sequence(tuple(flat))


@attrs.frozen(repr=False)
class When:
    """``hook`` sees only the events for which ``pred(event)`` holds."""

    __eq__, __hash__ = fields_eq, fields_hash

    pred: Callable[[Event], bool]
    hook: HookLike
    shape_name = "when"

    @property
    def children(self) -> tuple[HookLike]:
        return (self.hook,)

    @property
    def init(self) -> Any:
        return self.hook.init

    @property
    def kinds(self) -> frozenset[str] | None:
        return self.hook.kinds

    def step(self, state: Any, event: Event) -> tuple[Any, Effects]:
        if self.pred(event):
            return self.hook.step(state, event)
        return state, NO_EFFECTS

    def step_for(self, kind: str, child_step: Callable[[HookLike, str], Step | None] = step_for) -> Step | None:
        inner, pred = child_step(self.hook, kind), self.pred
        if inner is None:
            return None

        def step(state: Any, event: Event) -> tuple[Any, Effects]:
            return inner(state, event) if pred(event) else (state, NO_EFFECTS)

        return step

    def fold_step_for(self, kind: str) -> Step | None:
        return self.step_for(kind, fold_step_for)

    def to_fold_state(self, state: Any) -> Any:
        return to_fold_state(self.hook, state)

    def from_fold_state(self, state: Any) -> Any:
        return from_fold_state(self.hook, state)

    def __repr__(self) -> str:
        return f"when({fn_name(self.pred)}, {self.hook!r})"


def when(pred: Callable[[Event], bool], hook: HookLike) -> When:
    """Let ``hook`` see only events for which ``pred(event)`` is true.

    Laws: ``when(lambda e: True, h)`` behaves as ``h``; ``when(p, when(q, h))``
    behaves as ``when(lambda e: p(e) and q(e), h)``.

    >>> from fhooks.core import Event, Log, fold
    >>> log = on("validation_end", lambda e: Log({"val_loss": e.metrics["val_loss"]}))
    >>> skip_sanity = when(lambda e: e.stage != "sanity_check", log)
    >>> fold(skip_sanity, [Event("validation_end", stage="sanity_check", metrics={"val_loss": 9.0}),
    ...                    Event("validation_end", metrics={"val_loss": 0.5})])[1]
    (Log({'val_loss': 0.5}),)
    """
    return When(check_callable(pred, "when", "pred"), check_hook(hook, "when"))


@attrs.frozen(repr=False)
class On:
    """A stateless hook: ``fn(event)`` for events of ``kinds``, returning effects."""

    __eq__, __hash__ = fields_eq, fields_hash

    kinds: frozenset[str]
    fn: Callable[[Event], EffectLike]
    init = None
    shape_name = "on"

    def step(self, state: None, event: Event) -> tuple[None, Effects]:
        out = self.fn(event)
        if out is None:
            return None, ()  # a constant: no pair built
        return None, (out,) if isinstance(out, Effect) else as_effects(out, f"on({fn_name(self.fn)})")

    def __repr__(self) -> str:
        kinds = ", ".join(map(repr, sorted(self.kinds)))
        return f"on({kinds}, {fn_name(self.fn)})"


def on(kinds: str | Iterable[str], fn: Callable[[Event], EffectLike]) -> On:
    """A stateless hook calling ``fn(event)`` on events of ``kinds``; ``fn`` returns None, an effect or effects.

    >>> on("fit_end", lambda e: None)
    on('fit_end', <lambda>)
    """
    return On(check_kinds(kinds, "on"), check_callable(fn, "on", "fn"))


@attrs.frozen(repr=False)
class Stateful:
    """A hook from a plain ``fn(state, event) -> (state, effects)``."""

    __eq__, __hash__ = fields_eq, fields_hash

    init: Any
    fn: Callable[[Any, Event], tuple[Any, EffectLike]]
    kinds: frozenset[str] | None = None
    name: str = ""

    @property
    def shape_name(self) -> str:
        return self.name or "stateful"

    def step(self, state: Any, event: Event) -> tuple[Any, Effects]:
        new, out = self.fn(state, event)
        return new, NO_EFFECTS if not out else as_effects(out, self.shape_name)

    def __repr__(self) -> str:
        return self.name or f"stateful({self.init!r}, {fn_name(self.fn)})"


def stateful(init: Any, fn: Callable[[Any, Event], tuple[Any, EffectLike]], *,
             kinds: str | Iterable[str] | None = None, name: str = "") -> Stateful:
    """A hook from a plain ``(state, event) -> (state, effects)`` function, starting at ``init``.

    >>> from fhooks.core.fold import fold
    >>> count = stateful(0, lambda n, e: (n + 1, None), kinds="train_batch_end")
    >>> fold(count, [Event("train_batch_end")] * 3)
    (3, ())
    """
    check_callable(fn, "stateful", "fn")
    return Stateful(init, fn, None if kinds is None else check_kinds(kinds, "stateful"), name)


@attrs.frozen(repr=False)
class MapEffects:
    """``hook``'s effects, each rewritten by ``fn(effect)`` (None drops it)."""

    __eq__, __hash__ = fields_eq, fields_hash

    fn: Callable[[Effect], EffectLike]
    hook: HookLike
    shape_name = "map_effects"

    children = When.children
    init = When.init
    kinds = When.kinds
    fold_step_for = When.fold_step_for
    to_fold_state = When.to_fold_state
    from_fold_state = When.from_fold_state

    def step(self, state: Any, event: Event) -> tuple[Any, Effects]:
        state, effects = self.hook.step(state, event)
        return state, self._rewrite(effects) if effects else effects

    def step_for(self, kind: str, child_step: Callable[[HookLike, str], Step | None] = step_for) -> Step | None:
        inner, rewrite = child_step(self.hook, kind), self._rewrite
        if inner is None:
            return None

        def step(state: Any, event: Event) -> tuple[Any, Effects]:
            state, effects = inner(state, event)
            return state, rewrite(effects) if effects else effects

        return step

    def _rewrite(self, effects: Effects) -> Effects:
        where = f"map_effects({fn_name(self.fn)})"
        return tuple(e for effect in effects for e in as_effects(self.fn(effect), where))

    def __repr__(self) -> str:
        return f"map_effects({fn_name(self.fn)}, {self.hook!r})"


def map_effects(fn: Callable[[Effect], EffectLike], hook: HookLike) -> MapEffects:
    """Rewrite each effect of ``hook`` with ``fn(effect)``, which returns None, an effect or effects.

    A dry run: log what a stop rule would do instead of stopping.

    >>> from fhooks.core import Event, Log, Stop, fold
    >>> stop = on("validation_end", lambda e: Stop("val_loss is NaN"))
    >>> dry = map_effects(lambda x: Log({"would_stop": 1.0}) if isinstance(x, Stop) else x, stop)
    >>> fold(dry, [Event("validation_end")])[1]
    (Log({'would_stop': 1.0}),)
    """
    return MapEffects(check_callable(fn, "map_effects", "fn"), check_hook(hook, "map_effects"))


@attrs.frozen(repr=False)
class MapEvent:
    """``hook`` sees ``fn(event)`` instead of each event."""

    __eq__, __hash__ = fields_eq, fields_hash

    fn: Callable[[Event], Event]
    hook: HookLike
    shape_name = "map_event"

    children = When.children
    init = When.init
    kinds = When.kinds

    def step(self, state: Any, event: Event) -> tuple[Any, Effects]:
        return self.hook.step(state, self.fn(event))

    def __repr__(self) -> str:
        return f"map_event({fn_name(self.fn)}, {self.hook!r})"


def map_event(fn: Callable[[Event], Event], hook: HookLike) -> MapEvent:
    """Let ``hook`` see ``fn(event)``, e.g. metrics renamed, instead of each event.

    >>> from fhooks.core import Event, Log, fold
    >>> log_loss = on("validation_end", lambda e: Log({"loss": e.metrics["loss"]}))
    >>> renamed = map_event(lambda e: attrs.evolve(e, metrics={"loss": e.metrics["val_loss"]}), log_loss)
    >>> fold(renamed, [Event("validation_end", metrics={"val_loss": 0.5})])[1]
    (Log({'loss': 0.5}),)
    """
    return MapEvent(check_callable(fn, "map_event", "fn"), check_hook(hook, "map_event"))


@attrs.frozen(repr=False)
class RankZero:
    """``hook`` steps on every rank (its state stays in step) but acts only on global rank 0."""

    __eq__, __hash__ = fields_eq, fields_hash

    hook: HookLike
    shape_name = "rank_zero"

    children = When.children
    init = When.init
    kinds = When.kinds
    fold_step_for = When.fold_step_for
    to_fold_state = When.to_fold_state
    from_fold_state = When.from_fold_state

    def step(self, state: Any, event: Event) -> tuple[Any, Effects]:
        state, effects = self.hook.step(state, event)
        return state, effects if event.rank == 0 else NO_EFFECTS

    def step_for(self, kind: str, child_step: Callable[[HookLike, str], Step | None] = step_for) -> Step | None:
        inner = child_step(self.hook, kind)
        if inner is None:
            return None

        def step(state: Any, event: Event) -> tuple[Any, Effects]:
            state, effects = inner(state, event)
            return state, effects if event.rank == 0 else NO_EFFECTS

        return step

    def __repr__(self) -> str:
        return f"rank_zero({self.hook!r})"


def rank_zero(hook: HookLike) -> RankZero:
    """Keep ``hook``'s effects only on global rank 0; every rank still updates its state.

    >>> from fhooks.core import Event, Print, fold
    >>> hello = rank_zero(on("fit_start", lambda e: Print(f"hello from rank {e.rank}")))
    >>> [fold(hello, [Event("fit_start", rank=r)])[1] for r in (0, 1)]
    [(Print(text='hello from rank 0'),), ()]
    """
    return RankZero(check_hook(hook, "rank_zero"))
