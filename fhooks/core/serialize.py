"""Hook state to plain data and back: JSON-compatible, loadable with ``weights_only=True``.

States are made of numbers, strings, tuples, mappings and registered attrs classes; a field made
with :func:`transient` stays out of the data (it lives only in the running process).

>>> data = to_data((1, frozendict(a=2.0), None))
>>> data
{'__tuple__': [1, {'a': 2.0}, None]}
>>> from_data(data)
(1, frozendict({'a': 2.0}), None)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

from fhooks.core.frozendict import frozendict
from fhooks.errors import InvalidArgument

T = TypeVar("T")
_REGISTRY: dict[str, type] = {}
_SCALARS = (str, int, float, bool, type(None))
_TRANSIENT = "fhooks.transient"


def state_class(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen attrs state class and register it for :func:`from_data`.

    >>> @state_class
    ... class CountState:
    ...     n: int = 0
    >>> from_data(to_data(CountState(3)))
    CountState(n=3)
    """
    frozen = attrs.frozen(cls) if not attrs.has(cls) else cls
    _REGISTRY[_name(frozen)] = frozen
    return frozen


def transient(default: Any) -> Any:
    """A state field that lives only in the running process: out of :func:`to_data` and of equality.

    :func:`from_data` gives it back as ``default``, so the law ``from_data(to_data(state)) == state``
    holds whatever it holds (what a display last drew, say, which a checkpoint should not carry).

    >>> @state_class
    ... class Shown:
    ...     n: int = 0
    ...     drawn_at: float = transient(-1.0)
    >>> to_data(Shown(3, drawn_at=2.5))
    {'__state__': 'fhooks.core.serialize:Shown', 'fields': {'n': 3}}
    >>> from_data(to_data(Shown(3, drawn_at=2.5))), Shown(3, 2.5) == Shown(3)
    (Shown(n=3, drawn_at=-1.0), True)
    """
    return attrs.field(default=default, eq=False, metadata={_TRANSIENT: True})


def stored_fields(cls: type) -> tuple[attrs.Attribute, ...]:
    """The fields of the attrs class ``cls`` that :func:`to_data` stores: all but the :func:`transient` ones."""
    return tuple(f for f in attrs.fields(cls) if _TRANSIENT not in f.metadata)


def _name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def to_data(value: Any) -> Any:
    """Encode a state as JSON-compatible plain data (dicts, lists, str, numbers, None).

    >>> import json
    >>> to_data((0, frozendict(best=0.25)))
    {'__tuple__': [0, {'best': 0.25}]}
    >>> json.dumps(to_data((1.5, "min")))
    '{"__tuple__": [1.5, "min"]}'
    """
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, tuple):
        return {"__tuple__": [to_data(v) for v in value]}
    if isinstance(value, Mapping):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: to_data(v) for k, v in value.items()}
        return {"__map__": [[to_data(k), to_data(v)] for k, v in value.items()]}
    cls = type(value)
    if attrs.has(cls) and _REGISTRY.get(_name(cls)) is cls:
        fields = {f.name: to_data(getattr(value, f.name)) for f in stored_fields(cls)}
        return {"__state__": _name(cls), "fields": fields}
    raise InvalidArgument(
        f"to_data: cannot store {value!r} of type {cls.__name__} in hook state; use numbers, strings, "
        "tuples, mappings and @state_class classes"
    )


def from_data(data: Any) -> Any:
    """Decode what :func:`to_data` made; lists come back as tuples, mappings as frozendicts.

    Law: ``from_data(to_data(state)) == state`` for every hook state.

    >>> from_data({"__tuple__": [0, {"best": 0.25}]})
    (0, frozendict({'best': 0.25}))
    >>> from_data([1, [2, 3]])
    (1, (2, 3))
    """
    if isinstance(data, _SCALARS):
        return data
    if isinstance(data, (list, tuple)):
        return tuple(from_data(v) for v in data)
    if isinstance(data, Mapping):
        if "__tuple__" in data:
            return tuple(from_data(v) for v in data["__tuple__"])
        if "__map__" in data:
            return frozendict((from_data(k), from_data(v)) for k, v in data["__map__"])
        if "__state__" in data:
            cls = _REGISTRY.get(data["__state__"])
            if cls is None:
                raise InvalidArgument(f"from_data: unknown state class {data['__state__']!r}; is its module imported?")
            fields = {k: from_data(v) for k, v in data["fields"].items()}
            return cls(**fields)
        return frozendict((k, from_data(v)) for k, v in data.items())
    raise InvalidArgument(f"from_data: unexpected {type(data).__name__} in stored hook state: {data!r}")
