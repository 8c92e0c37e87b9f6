"""The hook: an initial state, a pure step function, and the event kinds it hears.

>>> from fhooks.core.effects import Stop
>>> count = Hook(init=0, step=lambda n, e: (n + 1, (Stop("3 epochs"),) if n + 1 == 3 else ()),
...              kinds={"train_epoch_end"}, name="count_epochs")
>>> count
count_epochs
>>> count.step(2, None)
(3, (Stop('3 epochs'),))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import attrs

from fhooks.core.effects import Effects
from fhooks.core.events import Event, check_kinds
from fhooks.core.values import fields_eq, fields_hash
from fhooks.errors import InvalidArgument

S = TypeVar("S")
#: The role of a step function: ``(state, event) -> (state, effects)``.
Step = Callable[[S, Event], "tuple[S, Effects]"]


@runtime_checkable
class HookLike(Protocol[S]):
    """What every hook has: library hooks, combinators and ``Callback`` instances alike.

    >>> from fhooks.core import every_n, on
    >>> isinstance(every_n(2, on("fit_end", print)), HookLike), isinstance(print, HookLike)
    (True, False)
    """

    @property
    def init(self) -> S: ...

    @property
    def kinds(self) -> frozenset[str] | None: ...

    def step(self, state: S, event: Event) -> tuple[S, Effects]: ...


def _kinds(value: Iterable[str] | str | None) -> frozenset[str] | None:
    return None if value is None else check_kinds(value, "Hook")


def _callable(_: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not callable(value):
        raise InvalidArgument(f"Hook: {attribute.name} must be callable (state, event) -> (state, effects), got {value!r}")


@attrs.frozen(repr=False)
class Hook(Generic[S]):
    """A hook made of plain parts: ``init``, ``step`` and the ``kinds`` it hears (None: all).

    >>> from fhooks.core import Event, Stop, fold
    >>> def count(n, event):
    ...     return n + 1, (Stop("3 epochs"),) if n + 1 == 3 else ()
    >>> epochs = Hook(init=0, step=count, kinds={"train_epoch_end"}, name="count_epochs")
    >>> epochs
    count_epochs
    >>> fold(epochs, [Event("train_epoch_end", epoch=i) for i in range(4)])
    (4, (Stop('3 epochs'),))
    """

    __eq__, __hash__ = fields_eq, fields_hash

    init: S
    step: Step = attrs.field(validator=_callable)
    kinds: frozenset[str] | None = attrs.field(default=None, converter=_kinds)
    name: str = "hook"

    def __repr__(self) -> str:
        return self.name


def check_hook(value: Any, where: str) -> HookLike:
    """Return ``value`` if it is a hook (has ``init``, ``step`` and ``kinds``), else raise."""
    if isinstance(value, HookLike) and callable(value.step):
        return value
    raise InvalidArgument(
        f"{where}: expected a hook (an object with init, step and kinds, e.g. from lambda_hook or a Callback), "
        f"got {value!r}"
    )


def children(hook: HookLike) -> tuple[HookLike, ...]:
    """The hooks a combinator is built from (empty for a leaf)."""
    return tuple(getattr(hook, "children", ()))


def instances(hooks: Iterable[HookLike], kind: type | tuple[type, ...]) -> list[Any]:
    """Every instance of ``kind`` anywhere in the expressions ``hooks``, in the order they run.

    >>> from fhooks.core import sequence, every_n
    >>> a = Hook(0, lambda s, e: (s, ()), name="a")
    >>> instances([sequence(a, every_n(2, a, kind="fit_end"))], Hook) == [a, a]
    True
    """
    found, stack = [], list(reversed(list(hooks)))
    while stack:
        hook = stack.pop()
        if isinstance(hook, kind):
            found.append(hook)
        stack.extend(reversed(children(hook)))
    return found


def shape(hook: HookLike) -> str:
    """The structure of a hook expression, the part a saved state must match.

    >>> from fhooks.core import sequence, every_n
    >>> a = Hook(0, lambda s, e: (s, ()), name="a")
    >>> shape(sequence(every_n(2, a, kind="fit_end"), a))
    'sequence(every_n(a), a)'
    """
    name = getattr(hook, "shape_name", None) or (hook.name if isinstance(hook, Hook) else type(hook).__name__)
    inner = children(hook)
    return f"{name}({', '.join(map(shape, inner))})" if inner else name


def listens(hook: HookLike, kind: str) -> bool:
    """Whether ``hook`` hears events of ``kind``."""
    kinds = hook.kinds
    return kinds is None or kind in kinds


def step_for(hook: HookLike, kind: str) -> Step | None:
    """``hook``'s step for events of ``kind`` alone, or None when ``hook`` does not hear ``kind``.

    A hook may specialise its step per kind with a ``step_for(kind)`` method (the combinators
    do: a sequence steps only the children that hear ``kind``); any other hook steps as itself.
    The result behaves as ``hook.step`` on every event of ``kind``.

    >>> from fhooks.core import every_n, on, sequence
    >>> expression = sequence(on("fit_start", print), every_n(2, on("fit_end", print)))
    >>> step_for(expression, "setup") is None, step_for(on("fit_start", print), "fit_start") is not None
    (True, True)
    """
    specialise = getattr(hook, "step_for", None)
    if specialise is not None:
        return specialise(kind)
    if not listens(hook, kind):
        return None
    step = hook.step
    return step if getattr(step, "__module__", "").startswith("fhooks.") else _checked(hook, step)


def _checked(hook: HookLike, step: Step) -> Step:
    """A step written outside fhooks, whose result is checked to be a ``(state, effects)`` pair (a clear error if
    not, rather than a failure deep inside a combinator)."""

    def checked_step(state: Any, event: Any) -> Any:
        result = step(state, event)
        if result.__class__ is tuple and len(result) == 2 and result[1].__class__ is tuple:
            return result
        from fhooks.core.fold import step_output

        return step_output(hook, result)  # raises InvalidStepOutput naming the hook and what it returned

    return checked_step


def fold_step_for(hook: HookLike, kind: str) -> Step | None:
    """``hook``'s step for events of ``kind`` over its *fold state*, or None when it does not hear ``kind``.

    Between two events a fold keeps no state anyone can see, so a hook may step there on a
    cheaper form of its state (a filter: a plain ``(count, inner)`` tuple rather than a new
    ``CountState`` per event) with ``fold_step_for``, ``to_fold_state`` and ``from_fold_state``
    methods. Any other hook's fold state is its state, stepped by :func:`step_for`.

    >>> from fhooks.core import Event, every_n, on
    >>> counted = every_n(2, on("fit_end", print))
    >>> state = to_fold_state(counted, counted.init)
    >>> state, from_fold_state(counted, fold_step_for(counted, "fit_end")(state, Event("fit_end"))[0])
    ((0, None), CountState(count=1, inner=None))
    """
    specialise = getattr(hook, "fold_step_for", None)
    return step_for(hook, kind) if specialise is None else specialise(kind)


def to_fold_state(hook: HookLike, state: Any) -> Any:
    """``state`` in the form :func:`fold_step_for`'s steps take."""
    convert = getattr(hook, "to_fold_state", None)
    return state if convert is None else convert(state)


def from_fold_state(hook: HookLike, state: Any) -> Any:
    """The hook state a fold state stands for: the inverse of :func:`to_fold_state`."""
    convert = getattr(hook, "from_fold_state", None)
    return state if convert is None else convert(state)


class StepTable(dict):
    """``kind -> step_for(hook, kind)``, each entry made the first time its kind is asked for.

    >>> from fhooks.core import on
    >>> table = StepTable(on("fit_end", print))
    >>> table["fit_start"] is None, callable(table["fit_end"]), sorted(table)
    (True, True, ['fit_end', 'fit_start'])
    """

    def __init__(self, hook: HookLike, make: Callable[[str], Step | None] | None = None) -> None:
        super().__init__()
        self.make = make or (lambda kind: step_for(hook, kind))

    def __missing__(self, kind: str) -> Step | None:
        step = self[kind] = self.make(kind)
        return step

