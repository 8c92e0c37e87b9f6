"""Validation of the trainer's arguments: Lightning's names, clear errors at construction.

>>> parse_max_time("00:01:00:00")
3600.0
>>> check_limit(0.5, "limit_train_batches")
0.5
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from fhooks.errors import InvalidArgument

PRECISIONS = {None: "32-true", "32": "32-true", "32-true": "32-true", 32: "32-true", "bf16-mixed": "bf16-mixed",
              "bf16": "bf16-mixed",
              "16-mixed": "16-mixed", 16: "16-mixed", "16": "16-mixed"}
_DURATION = re.compile(r"^(\d{2}):(\d{2}):(\d{2}):(\d{2})$")


def parse_max_time(value: str | timedelta | Mapping[str, int] | None) -> float | None:
    """Seconds from ``"DD:HH:MM:SS"``, a ``timedelta`` or a dict of timedelta arguments."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        try:
            return timedelta(**value).total_seconds()
        except TypeError as exc:
            raise InvalidArgument(f"Trainer: max_time={dict(value)!r} is not a dict of timedelta arguments ({exc})") from exc
        except OverflowError as exc:
            raise InvalidArgument(f"Trainer: max_time={dict(value)!r} is longer than a timedelta can hold "
                                  f"({timedelta.max}); pass a shorter duration or max_time=None") from exc
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidArgument(f"Trainer: max_time={value!r}; accepted: 'DD:HH:MM:SS' (e.g. '00:12:00:00'), "
                              "a datetime.timedelta, or a dict like {'hours': 12}")
    days, hours, minutes, seconds = map(int, match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds).total_seconds()


def check_limit(value: int | float, name: str) -> int | float:
    """A batch limit: an int count >= 0 or a float fraction in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgument(f"Trainer: {name}={value!r} must be an int >= 0 or a float in [0, 1]")
    if isinstance(value, float) and not 0.0 <= value <= 1.0:
        raise InvalidArgument(f"Trainer: {name}={value!r} must be an int >= 0 or a float in [0, 1]")
    if isinstance(value, int) and value < 0:
        raise InvalidArgument(f"Trainer: {name}={value!r} must be an int >= 0 or a float in [0, 1]")
    return value


def limited(total: int | None, limit: int | float) -> int | None:
    """How many batches to run of ``total`` (None: unknown length) under ``limit``."""
    if isinstance(limit, float):
        if total is None:
            return None if limit == 1.0 else 0
        return total if limit == 1.0 else int(total * limit)
    return limit if total is None else min(total, limit)


def check_batches(total: int | None, limit: int | float, name: str) -> None:
    """Refuse, before any step, a limit that leaves no batch of a loader that has some (as Lightning).

    >>> check_batches(8, 0.01, "limit_train_batches")
    Traceback (most recent call last):
    ...
    fhooks.errors.InvalidArgument: Trainer: limit_train_batches=0.01 of 8 batches is less than one batch; \
pass at least limit_train_batches=0.125 (or an int count)
    """
    if not isinstance(limit, float) or limit == 1.0:
        return
    if total is None:
        raise InvalidArgument(f"Trainer: {name}={limit!r} is a fraction, but the loader has no length (an "
                              f"IterableDataset); pass {name}=1.0 or an int count of batches")
    if total > 0 and limit > 0.0 and int(total * limit) == 0:
        raise InvalidArgument(f"Trainer: {name}={limit!r} of {total} batches is less than one batch; pass at least "
                              f"{name}={1.0 / total} (or an int count)")


def check_clip(value: Any) -> float | None:
    """``gradient_clip_val``: None or a finite number >= 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise InvalidArgument(f"Trainer: gradient_clip_val={value!r} must be a finite number >= 0 or None")
    return float(value)


def check_seed(value: Any) -> int | None:
    """``seed``: None or an int (what ``torch.manual_seed`` accepts)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**64:
        raise InvalidArgument(f"Trainer: seed={value!r} must be an int (from -2**63 to 2**64 - 1) or None")
    return value


#: How deeply hook expressions may nest (deeper ones exhaust Python's stack when saved or described).
MAX_NESTING = 100


def check_nesting(hook: Any, where: str) -> None:
    """Refuse an expression nested deeper than :data:`MAX_NESTING` combinators (checked without recursion)."""
    stack = [(hook, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > MAX_NESTING:
            raise InvalidArgument(f"Trainer: {where} nests hooks more than {MAX_NESTING} deep (when/every_n/... "
                                  f"inside each other); flatten it, e.g. one when() with a combined predicate")
        stack.extend((child, depth + 1) for child in getattr(current, "children", ()))


def check_bool(value: Any, name: str) -> bool:
    """A bool argument."""
    if not isinstance(value, bool):
        raise InvalidArgument(f"Trainer: {name}={value!r} must be True or False")
    return value


def check_positive(value: Any, name: str, *, allow_none: bool = False, minimum: int = 1) -> Any:
    """An int >= ``minimum`` (or None when allowed)."""
    if value is None and allow_none:
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        extra = " or None" if allow_none else ""
        raise InvalidArgument(f"Trainer: {name}={value!r} must be an int >= {minimum}{extra}")
    return value


def check_precision(value: Any) -> str:
    """Normalise ``precision`` to Lightning's names: "32-true", "bf16-mixed" or "16-mixed" (None: "32-true")."""
    if value not in PRECISIONS:
        raise InvalidArgument(f"Trainer: precision={value!r}; accepted: '32-true' (or '32'), 'bf16-mixed', '16-mixed'")
    return PRECISIONS[value]


def check_val_interval(value: Any) -> int | float:
    """``val_check_interval``: a float fraction of an epoch in (0, 1] or an int count of batches >= 1."""
    if isinstance(value, float) and 0.0 < value <= 1.0:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise InvalidArgument(f"Trainer: val_check_interval={value!r} must be a float in (0, 1] or an int >= 1")
