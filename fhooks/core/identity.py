"""Hook identity: the kind of a hook and the configuration that defines its decisions.

A resume matches saved hook states to the current hooks by identity, so a
state only ever goes back to a hook that decides the same way.

>>> from fhooks.hooks import early_stopping
>>> identity(early_stopping("val_loss")) == identity(early_stopping("val_loss"))
True
>>> kind_of(early_stopping("val_loss")) == kind_of(early_stopping("val_acc", mode="max"))
True
>>> identity(early_stopping("val_loss")) == identity(early_stopping("val_acc", mode="max"))
False
>>> match(["a(1)", "b(2)", "a(1)"], ["a(1)", "c(0)", "a(1)"])
[0, None, 2]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from fhooks.core.hook import Hook, HookLike, shape

_DEPTH = 200


def kind_of(hook: HookLike) -> str:
    """The structure of a hook: its shape (see :func:`fhooks.core.hook.shape`)."""
    return shape(hook)


def identity(hook: HookLike) -> str:
    """Kind plus configuration, as one string: equal strings mean the same decisions from the same state.

    A hook may define ``identity`` (a string) itself. Lightning-style ``Callback``
    classes are known by their ``state_key``; library hooks by their attrs fields.
    """
    return _identity(hook, 0)


def _identity(hook: Any, depth: int) -> str:
    own = getattr(hook, "identity", None)
    if isinstance(own, str):
        return own
    wrapped = getattr(hook, "hook", None)
    if wrapped is not None and hasattr(wrapped, "step") and not attrs.has(type(hook)):
        return f"{type(hook).__qualname__}[{_identity(wrapped, depth + 1)}]"  # a HookCallback
    key = getattr(hook, "state_key", None)
    if isinstance(key, str) and not attrs.has(type(hook)):
        return key  # a Lightning-style Callback: its state_key, as Lightning matches it
    name = getattr(hook, "shape_name", None) or (hook.name if isinstance(hook, Hook) else type(hook).__qualname__)
    if not attrs.has(type(hook)):
        return name
    fields = [f"{a.name}={_describe(getattr(hook, a.name), depth + 1)}"
              for a in attrs.fields(type(hook)) if a.init and a.eq and not a.name.startswith("_")]
    return f"{name}({', '.join(fields)})"


def _describe(value: Any, depth: int) -> str:
    if depth > _DEPTH:
        return "..."
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, (str, int, float, bool, type(None))):
        return repr(value)
    if hasattr(value, "step") and hasattr(value, "kinds"):
        return _identity(value, depth)
    if isinstance(value, (frozenset, set)):
        return "{" + ", ".join(sorted(_describe(v, depth + 1) for v in value)) + "}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {_describe(v, depth + 1)}" for k, v in sorted(value.items(), key=repr)) + "}"
    if isinstance(value, Sequence):
        return "(" + ", ".join(_describe(v, depth + 1) for v in value) + ")"
    if callable(value):
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__qualname__)}"
    if attrs.has(type(value)):
        return repr(value)
    return type(value).__qualname__


def match(saved: Sequence[str], current: Sequence[str]) -> list[int | None]:
    """For each current identity, the index of the saved one it takes (first unused equal one), or None."""
    used: set[int] = set()
    found: list[int | None] = []
    for ident in current:
        index = next((i for i, s in enumerate(saved) if s == ident and i not in used), None)
        if index is not None:
            used.add(index)
        found.append(index)
    return found
