"""A read-only, hashable, picklable ``dict``: the mapping type of plain-data state.

>>> m = frozendict(a=1)
>>> m["a"], m == {"a": 1}
(1, True)
>>> m["b"] = 2
Traceback (most recent call last):
...
TypeError: frozendict is read-only: build a new one, e.g. frozendict(old, b=...)
"""

from __future__ import annotations

from typing import Any, NoReturn


class frozendict(dict):  # noqa: N801 - reads like the builtin it refines
    """A ``dict`` that refuses mutation, so it can sit inside frozen state.

    >>> best = frozendict(val_loss=0.5)
    >>> best | {"val_acc": 0.9}
    frozendict({'val_loss': 0.5, 'val_acc': 0.9})
    >>> hash(best) == hash(frozendict(val_loss=0.5))
    True
    """

    __slots__ = ("_hash",)

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("frozendict is read-only: build a new one, e.g. frozendict(old, b=...)")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _read_only
    __ior__ = _read_only

    def __hash__(self) -> int:  # type: ignore[override]
        try:
            return self._hash
        except AttributeError:
            self._hash = hash(frozenset(self.items()))
            return self._hash

    def __or__(self, other: Any) -> frozendict:
        return frozendict({**self, **other})

    def copy(self) -> frozendict:
        """The same mapping: a frozendict needs no copy."""
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (frozendict, (dict(self),))

    def __repr__(self) -> str:
        return f"frozendict({dict.__repr__(self)})"


EMPTY = frozendict()
