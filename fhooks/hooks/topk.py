"""Top-k bookkeeping for ``model_checkpoint``: pure functions over an ordered tuple of ``(path, score)``.

Lightning's tie rules hold: a score equal to the k-th never displaces it, and
among equal scores the first inserted is both the best and the k-th.

>>> kept = ()
>>> for path, score in (("a", 3.0), ("b", 3.0), ("c", 3.0)):
...     if improves(kept, 2, "min", score):
...         kept, evicted = make_room(kept, 2, "min")
...         kept = insert(kept, path, score)
>>> kept, best(kept, "min"), worst(kept, "min")
((('a', 3.0), ('b', 3.0)), ('a', 3.0), ('a', 3.0))
"""

from __future__ import annotations

import math

Kept = tuple[tuple[str, float], ...]


def worst(kept: Kept, mode: str) -> tuple[str, float]:
    """The k-th (worst) entry: the highest score in ``"min"`` mode; the first inserted among ties."""
    pick = max if mode == "min" else min
    return pick(kept, key=lambda item: item[1])


def best(kept: Kept, mode: str) -> tuple[str, float]:
    """The best entry: the lowest score in ``"min"`` mode; the first inserted among ties."""
    pick = min if mode == "min" else max
    return pick(kept, key=lambda item: item[1])


def capacity(kept: Kept, save_top_k: int) -> int:
    """How many entries fit after the next insert: ``save_top_k``, or one more than now for ``-1``."""
    return len(kept) + 1 if save_top_k == -1 else save_top_k


def improves(kept: Kept, save_top_k: int, mode: str, current: float | None) -> bool:
    """Whether ``current`` earns a place: a free slot, ``-1``, or strictly better than the k-th.

    >>> improves((("a", 1.0),), 1, "min", 1.0), improves((("a", 1.0),), 1, "min", 0.5)
    (False, True)
    """
    if current is None:
        return False
    if save_top_k == -1 or len(kept) < save_top_k:
        return True
    kth = worst(kept, mode)[1]
    return current < kth if mode == "min" else current > kth


def make_room(kept: Kept, save_top_k: int, mode: str, kth_path: str | None = None) -> tuple[Kept, str | None]:
    """Drop the k-th entry when the set is full; return the new set and the evicted path (or None).

    ``kth_path`` is the path the hook recorded as k-th (default: computed from ``kept``).
    """
    k = capacity(kept, save_top_k)
    if k <= 0 or len(kept) != k:
        return kept, None
    evicted = worst(kept, mode)[0] if kth_path is None else kth_path
    return tuple(item for item in kept if item[0] != evicted), evicted


def score_of(current: float, mode: str) -> float:
    """The score to store: NaN becomes the worst possible value (``+inf`` in ``"min"`` mode)."""
    if math.isnan(current):
        return math.inf if mode == "min" else -math.inf
    return current


def insert(kept: Kept, path: str, score: float) -> Kept:
    """Add ``(path, score)`` at the end, or replace the score in place if ``path`` is already kept."""
    if any(item[0] == path for item in kept):
        return tuple((p, score if p == path else s) for p, s in kept)
    return (*kept, (path, score))
