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
from fhooks.core.hook import HookLike, StepTable, check_hook

_UNSET: Any = object()


def fold(hook: HookLike, events: Iterable[Event], state: Any = _UNSET) -> tuple[Any, Effects]:
    """Fold ``events`` through ``hook``, from ``state`` (default ``hook.init``).

    Returns the final state and every effect, in order. Law (resume): folding
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
    steps = StepTable(hook)  # each kind's step, made when the kind first comes
    effects: list[Any] = []
    extend = effects.extend
    for event in events:
        step = steps[event.kind]
        if step is not None:
            state, out = step(state, event)
            if out:
                extend(out)
    return state, tuple(effects)


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
