"""``lambda_hook``: Lightning's ``LambdaCallback`` as a native hook.

>>> from fhooks.core.effects import Stop
>>> stop_at_3 = lambda_hook(on_train_epoch_end=lambda e: Stop("epoch 3") if e.epoch == 3 else None)
>>> stop_at_3
lambda_hook(on_train_epoch_end=<lambda>)
>>> lambda_hook(on_train_epoch_ends=print)
Traceback (most recent call last):
...
TypeError: lambda_hook: unknown keyword 'on_train_epoch_ends'; did you mean 'on_train_epoch_end'? ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping


import attrs

from fhooks.core.combinators import check_callable, fn_name
from fhooks.core.effects import NO_EFFECTS, Effect, EffectLike, Effects, as_effects
from fhooks.core.events import EVENT_KINDS, Event
from fhooks.core.values import fields_eq, fields_hash
from fhooks.core.frozendict import frozendict


def keyword_for(kind: str) -> str:
    """Lightning's hook name for an event kind: ``on_`` + kind, except ``setup``/``teardown``.

    >>> keyword_for("fit_start"), keyword_for("setup")
    ('on_fit_start', 'setup')
    """
    return kind if kind in ("setup", "teardown") else f"on_{kind}"


#: Lightning's hook names, mapped to fhooks' event kinds.
HOOK_NAMES: Mapping[str, str] = frozendict((keyword_for(kind), kind) for kind in EVENT_KINDS)


@attrs.frozen(repr=False)
class LambdaHook:
    """A stateless hook with one function per event kind."""

    __eq__, __hash__ = fields_eq, fields_hash

    fns: Mapping[str, Callable[[Event], EffectLike]]
    init = None
    shape_name = "lambda_hook"

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self.fns)

    def step(self, state: None, event: Event) -> tuple[None, Effects]:
        out = self.fns[event.kind](event)
        if out is None:
            return None, NO_EFFECTS
        return None, (out,) if isinstance(out, Effect) else as_effects(out, "lambda_hook")

    def __repr__(self) -> str:
        args = ", ".join(f"{keyword_for(kind)}={fn_name(fn)}" for kind, fn in self.fns.items())
        return f"lambda_hook({args})"


def lambda_hook(**fns: Callable[[Event], EffectLike]) -> LambdaHook:
    """A hook from Lightning-named functions: ``lambda_hook(on_train_epoch_end=fn)``.

    Each ``fn(event)`` returns None, an effect or an iterable of effects.

    >>> from fhooks.core import Event, Log, Stop, fold
    >>> h = lambda_hook(on_train_epoch_end=lambda e: Log({"epoch": e.epoch}),
    ...                 on_fit_end=lambda e: [Log({"done": 1.0}), Stop("finished")])
    >>> sorted(h.kinds)
    ['fit_end', 'train_epoch_end']
    >>> fold(h, [Event("train_epoch_end", epoch=0), Event("fit_end")])[1]
    (Log({'epoch': 0}), Log({'done': 1.0}), Stop('finished'))

    Raises:
        TypeError: a keyword that is not a Lightning hook name.
        InvalidArgument: a value that is not callable.
    """
    kinds: dict[str, Callable[[Event], EffectLike]] = {}
    for keyword, fn in fns.items():
        if keyword not in HOOK_NAMES:
            import difflib  # only for the error message

            close = difflib.get_close_matches(keyword, list(HOOK_NAMES), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise TypeError(f"lambda_hook: unknown keyword {keyword!r}{hint} (accepted: {', '.join(HOOK_NAMES)})")
        kinds[HOOK_NAMES[keyword]] = check_callable(fn, "lambda_hook", keyword)
    return LambdaHook(frozendict(kinds))


