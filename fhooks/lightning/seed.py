"""``seed_everything``: one seed for Python's, NumPy's and torch's generators, as Lightning's."""

from __future__ import annotations

import os
import random

import torch

from fhooks.errors import InvalidArgument

_MAX = 2**32 - 1


def seed_everything(seed: int | None = None, workers: bool = False, verbose: bool = True) -> int:
    """Seed ``random``, NumPy (when installed) and torch (every device); returns the seed.

    Without a seed, ``PL_GLOBAL_SEED`` is read, else 0 is used. ``workers=True`` sets
    ``PL_SEED_WORKERS=1`` as Lightning does. ``verbose`` is accepted for Lightning's signature.

    >>> import torch
    >>> seed_everything(7)
    7
    >>> first = torch.rand(1)
    >>> _ = seed_everything(7)
    >>> bool(torch.equal(first, torch.rand(1)))
    True
    """
    if seed is None:
        seed = int(os.environ.get("PL_GLOBAL_SEED", 0))
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _MAX:
        raise InvalidArgument(f"seed_everything: seed={seed!r}; accepted: an int from 0 to {_MAX}")
    os.environ["PL_GLOBAL_SEED"] = str(seed)
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy
    except ImportError:  # pragma: no cover - numpy is optional
        pass
    else:
        numpy.random.seed(seed)
    os.environ["PL_SEED_WORKERS"] = str(int(workers))
    return seed
