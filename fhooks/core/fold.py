"""The pure drivers: fold a stream of events through a hook.

>>> from fhooks.core.combinators import stateful
>>> from fhooks.core.events import Event
>>> from fhooks.core.effects import Stop
>>> h = stateful(0, lambda n, e: (n + 1, Stop("two") if n + 1 == 2 else None))
>>> fold(h, [Event("fit_start")] * 3)
(3, (Stop('two'),))
>>> [effects for _, effects in scan(h, [Event("fit_start")] * 3)]
[(), (Stop('two'),), ()]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fhooks.core.effects import Effects
from fhooks.core.events import Event
from fhooks.core.hook import HookLike, StepTable, check_hook, fold_step_for, from_fold_state, to_fold_state
from fhooks.errors import InvalidArgument, InvalidStepOutput

_UNSET: Any = object()


def fold(hook: HookLike, events: Iterable[Event], state: Any = _UNSET) -> tuple[Any, Effects]:
    """Fold ``events`` through ``hook``, from ``state`` (default ``hook.init``).

    Returns the final state and every effect, in order. Between events the hook's state is kept
    in its fold form (see :func:`~fhooks.core.hook.fold_step_for`). Law (resume): folding
    ``a + b`` equals folding ``b`` from the state folding ``a`` ended in.

    >>> from fhooks.core import Event, Stop, stateful
    >>> epochs = stateful(0, lambda n, e: (n + 1, Stop("3 epochs") if n + 1 == 3 else None), kinds="train_epoch_end")
    >>> stream = [Event("train_epoch_end", epoch=i) for i in range(4)]
    >>> fold(epochs, stream)
    (4, (Stop('3 epochs'),))
    >>> state, _ = fold(epochs, stream[:2])  # resume from the state after two events
    >>> fold(epochs, stream[2:], state)
    (4, (Stop('3 epochs'),))
    """
    check_hook(hook, "fold")
    state = hook.init if state is _UNSET else state
    start = current = to_fold_state(hook, state)
    steps = StepTable(hook, lambda kind: fold_step_for(hook, kind))  # each kind's step, made when the kind first comes
    effects: list[Any] = []
    extend = effects.extend
    for event in events:
        if event.__class__ is not Event:
            _not_an_event(event, events)
        step = steps[event.kind]
        if step is not None:
            current, out = step(current, event)
            if out:
                extend(out)
    return (state if current is start else from_fold_state(hook, current)), tuple(effects)


def _not_an_event(value: Any, events: Iterable[Any]) -> None:
    """Raise for ``value``, met among ``events``, unless it is an Event (of a subclass); name its index in a list.

    >>> from fhooks.core import stateful
    >>> fold(stateful(0, lambda n, e: (n, None)), [Event("fit_start"), "fit_end"])
    Traceback (most recent call last):
    ...
    fhooks.errors.InvalidArgument: fold: events[1] is 'fit_end' (str), not an Event; build events with Event(kind, ...)
    """
    if not isinstance(value, Event):
        index = next((i for i, e in enumerate(events) if e is value), None) if isinstance(events, (list, tuple)) else None
        at = "an event" if index is None else f"events[{index}]"
        raise InvalidArgument(f"fold: {at} is {value!r} ({type(value).__name__}), not an Event; "
                              "build events with Event(kind, ...)")


def step_output(hook: HookLike, result: Any) -> tuple[Any, Effects]:
    """``result`` of ``hook.step`` if it is a ``(state, effects)`` pair with a tuple of effects, else a clear error.

    >>> from fhooks.core.hook import Hook
    >>> step_output(Hook(0, lambda s, e: s, name="broken"), 5)
    Traceback (most recent call last):
    ...
    fhooks.errors.InvalidStepOutput: hook broken: step returned 5 (int); a hook's step must return a pair \
(state, effects) with effects a tuple
    """
    if result.__class__ is tuple and len(result) == 2 and result[1].__class__ is tuple:
        return result
    raise InvalidStepOutput(f"hook {hook!r}: step returned {result!r} ({type(result).__name__}); a hook's step must "
                            "return a pair (state, effects) with effects a tuple")


def scan(hook: HookLike, events: Iterable[Event], state: Any = _UNSET) -> Iterator[tuple[Any, Effects]]:
    """Yield ``(state, effects)`` after each event of ``events``, from ``state`` (default ``hook.init``).

    >>> from fhooks.core import Event, Stop, stateful
    >>> epochs = stateful(0, lambda n, e: (n + 1, Stop("3 epochs") if n + 1 == 3 else None), kinds="train_epoch_end")
    >>> list(scan(epochs, [Event("train_epoch_end", epoch=i) for i in range(4)]))
    [(1, ()), (2, ()), (3, (Stop('3 epochs'),)), (4, ())]
    """
    check_hook(hook, "scan")
    state = hook.init if state is _UNSET else state
    steps = StepTable(hook)
    for event in events:
        step = steps[event.kind]
        if step is not None:
            state, out = step(state, event)
            yield state, out
        else:
            yield state, ()
