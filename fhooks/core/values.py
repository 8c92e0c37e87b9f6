"""attrs' ``__repr__``, ``__eq__`` and ``__hash__`` written once for many classes.

attrs writes and compiles these methods for each class it makes, at import (about 0.2 ms a
class and method). A class that sets them in its body to these functions gets the same
behaviour, over its attrs fields, without that cost:

>>> import attrs
>>> @attrs.frozen
... class Point:
...     x: int
...     y: int = attrs.field(default=0, repr=False, eq=False)
...     __repr__, __eq__, __hash__ = fields_repr, fields_eq, fields_hash
>>> Point(1, 2), Point(1, 2) == Point(1, 3), hash(Point(1, 2)) == hash(Point(1, 3))
(Point(x=1), True, True)
"""

from __future__ import annotations

from typing import Any


def fields_repr(self: Any) -> str:
    """``Name(field=value, ...)`` over the fields shown in a repr, as attrs writes it."""
    shown = ", ".join(f"{a.name}={(repr if a.repr is True else a.repr)(getattr(self, a.name))}"
                      for a in self.__attrs_attrs__ if a.repr)
    return f"{self.__class__.__qualname__.rsplit('>.', 1)[-1]}({shown})"


def fields_eq(self: Any, other: Any) -> bool:
    """Equal when of the same class with equal compared fields, as attrs' ``__eq__``."""
    if other.__class__ is not self.__class__:
        return NotImplemented
    return all(getattr(self, a.name) == getattr(other, a.name) for a in self.__attrs_attrs__ if a.eq)


def fields_hash(self: Any) -> int:
    """A hash of the class and the compared fields, consistent with :func:`fields_eq`."""
    return hash((self.__class__, *(getattr(self, a.name) for a in self.__attrs_attrs__ if a.eq)))
