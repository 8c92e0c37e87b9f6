"""Checkpoint files: written atomically, read with ``weights_only=True``; RNG states in and out.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "a.ckpt"
>>> write_atomic({"epoch": 3, "state_dict": {}}, path)
>>> read(path)["epoch"]
3
"""

from __future__ import annotations

import array
import collections
import os
import pickle
import random
import tempfile
import types
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
    def fill(fd: int, _name: str) -> None:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())

    return _replace_atomically(path, fill)


def write_named_atomically(path: str | Path, write: Callable[[str], None],
                           before_replace: Callable[[str], None] | None = None) -> Path:
    """As :func:`write_atomically`, but ``write(name)`` writes the temporary file by its name (a writer that opens
    files itself, as ``torch.save`` given a path: no Python call per chunk written); the file is synced after.
    ``before_replace(name)`` runs once the temporary file is complete, before it takes ``path``'s place."""
    def fill(fd: int, name: str) -> None:
        try:
            write(name)
            os.fsync(fd)  # the same file, written through another descriptor: its data reaches the disk
        finally:
            os.close(fd)

    return _replace_atomically(path, fill, before_replace)


def _replace_atomically(path: str | Path, fill: Callable[[int, str], None],
                        before_replace: Callable[[str], None] | None = None) -> Path:
    """Create the temporary file beside ``path``, ``fill(descriptor, name)`` it (and sync it), rename it over ``path``."""
    path = Path(path)
    if not os.path.isdir(path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.fhooks-", suffix=".tmp", dir=path.parent)
    try:
        fill(fd, tmp)
        if before_replace is not None:
            before_replace(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


#: Types that are never a tensor's storage (what torch's pickler looks up by a Python call for every object).
_NEVER_STORAGE = frozenset({dict, list, tuple, str, int, float, bool, type(None), bytes,
                            collections.OrderedDict, torch.Tensor, torch.Size, torch.dtype})


class _PlainSkippingPickler(pickle.Pickler):
    """A base for ``torch.save``'s pickler: the ``persistent_id`` a subclass defines (torch's storage lookup) is not
    called for plain values, which are never storages. The bytes written are the same; the pickling costs a third
    less on a checkpoint of mostly small dicts and numbers (Lightning's loop counters)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        storage_id = vars(cls).get("persistent_id")
        if storage_id is None:
            return

        def persistent_id(self: pickle.Pickler, obj: Any) -> Any:
            return None if type(obj) in _NEVER_STORAGE else storage_id(self, obj)

        cls.persistent_id = persistent_id  # type: ignore[method-assign]


#: What ``torch.save(..., pickle_module=...)`` takes its ``Pickler`` from (torch reads only that and the name).
_PICKLE = types.ModuleType("fhooks_checkpoint_pickle")
_PICKLE.Pickler = _PlainSkippingPickler  # type: ignore[attr-defined]


def write_atomic(checkpoint: Mapping[str, Any], path: str | Path,
                 before_replace: Callable[[str], None] | None = None) -> None:
    """Write ``checkpoint`` with ``torch.save`` (by the temporary file's name) through :func:`write_named_atomically`;
    ``before_replace(name)`` runs when the temporary file is complete, before the rename (a ledger records it then)."""
    write_named_atomically(path, lambda name: torch.save(dict(checkpoint), name, pickle_module=_PICKLE), before_replace)


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
    return {**states, "python": [version, _state_words(internal), gauss]}


_last_words: tuple[tuple[int, ...], torch.Tensor | None] = ((), None)


def _state_words(internal: Any) -> torch.Tensor:
    """Python's state words as one int64 tensor; while they are unchanged (a training loop seldom draws from
    ``random``) the tensor made last time is given again: comparing 625 numbers costs a twentieth of converting
    them. Nobody writes into these tensors (they are pickled, or read by :func:`set_rng_states`)."""
    global _last_words
    words = tuple(internal)
    last, tensor = _last_words
    if tensor is None or words != last:
        tensor = torch.frombuffer(array.array("q", words), dtype=torch.int64)
        _last_words = (words, tensor)
    return tensor


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
