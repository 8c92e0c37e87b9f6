"""Checkpoint files: written atomically, read with ``weights_only=True``; RNG states in and out.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "a.ckpt"
>>> write_atomic({"epoch": 3, "state_dict": {}}, path)
>>> read(path)["epoch"]
3
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import torch

from fhooks.errors import CorruptCheckpoint

FORMAT = 1


def write_atomically(path: str | Path, write: Callable[[IO[Any]], None], *, binary: bool = True) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, sync it, then rename it into place.

    A crash never leaves a torn file at ``path``; parent folders are created. The temporary file is
    named ``.<name>.fhooks-<random>.tmp``, so a run that finds one left by a killed process can remove it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.fhooks-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_atomic(checkpoint: Mapping[str, Any], path: str | Path) -> None:
    """Write ``checkpoint`` with ``torch.save`` through :func:`write_atomically`."""
    write_atomically(path, lambda f: torch.save(dict(checkpoint), f))


def read(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint with ``torch.load(..., weights_only=True)``; a torn or foreign file raises CorruptCheckpoint."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError... for torn files
        raise CorruptCheckpoint(
            f"checkpoint {str(path)!r} cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
            "it may be truncated by a crash or not be a checkpoint. Nothing was loaded.") from exc
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CorruptCheckpoint(f"checkpoint {str(path)!r} is not an fhooks or Lightning checkpoint "
                                "(no 'state_dict' entry). Nothing was loaded.")
    return checkpoint


def rng_states() -> dict[str, Any]:
    """Every global RNG state, as data ``weights_only`` loading accepts."""
    states: dict[str, Any] = {"torch": torch.get_rng_state(), "python": _python_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy ships with torch
        return states
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    states["numpy"] = [kind, torch.from_numpy(keys.astype("int64")), int(pos), int(has_gauss), float(gauss)]
    return states


def _python_state() -> list[Any]:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def packed_rng(states: Mapping[str, Any]) -> dict[str, Any]:
    """``states`` for a checkpoint file: Python's 625 state words as one tensor, not 625 pickled ints.

    >>> packed = packed_rng(rng_states())
    >>> type(packed["python"][1]).__name__
    'Tensor'
    >>> set_rng_states(packed)
    """
    version, internal, gauss = states["python"]
    if isinstance(internal, torch.Tensor):
        return dict(states)
    return {**states, "python": [version, torch.tensor(internal, dtype=torch.int64), gauss]}


def set_rng_states(states: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_states` or :func:`packed_rng` captured."""
    torch.set_rng_state(states["torch"])
    version, internal, gauss = states["python"]
    internal = internal.tolist() if isinstance(internal, torch.Tensor) else internal
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    if "numpy" in states:
        import numpy as np

        kind, keys, pos, has_gauss, gauss = states["numpy"]
        np.random.set_state((kind, keys.numpy().astype("uint32"), pos, has_gauss, gauss))
