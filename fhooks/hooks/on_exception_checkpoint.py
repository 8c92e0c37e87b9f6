"""``on_exception_checkpoint``: write a full checkpoint when fit raises (Lightning's OnExceptionCheckpoint).

On an ``exception`` event (``KeyboardInterrupt`` included) it asks for a full
checkpoint at ``dirpath/filename.ckpt``; the trainer writes it before the
exception propagates, so the run resumes exactly from there. At a clean
``teardown`` it removes that file again, as Lightning does, but only if this
hook wrote it (in this run, or in the run whose checkpoint it resumed from).

>>> from fhooks.core import Event, fold
>>> h = on_exception_checkpoint("/runs/a")
>>> h
on_exception_checkpoint('/runs/a')
>>> fold(h, [Event("exception", step=7, data=KeyboardInterrupt())])
(OnExceptionState(written=True), (SaveCheckpoint(path='/runs/a/on_exception.ckpt', weights_only=False),))
>>> fold(h, [Event("teardown")])
(OnExceptionState(written=False), ())
"""

from __future__ import annotations

import os
import attrs

from fhooks.core.effects import NO_EFFECTS, Effects, RemoveCheckpoint, SaveCheckpoint
from fhooks.core.events import Event
from fhooks.core.serialize import state_class
from fhooks.errors import InvalidArgument


@state_class
class OnExceptionState:
    """Whether the hook's file was written and not yet removed."""

    written: bool = False


@attrs.frozen(repr=False)
class OnExceptionCheckpoint:
    """The hook: save ``path`` on ``exception``, remove it at ``teardown`` if it wrote it."""

    dirpath: str
    filename: str = "on_exception"
    extension: str = ".ckpt"
    init = OnExceptionState()
    kinds = frozenset({"exception", "teardown"})
    shape_name = "on_exception_checkpoint"

    @property
    def path(self) -> str:
        """Where the checkpoint goes: ``dirpath/filename`` plus the extension."""
        return os.path.join(self.dirpath, self.filename + self.extension)

    def step(self, state: OnExceptionState, event: Event) -> tuple[OnExceptionState, Effects]:
        if event.kind == "exception":
            return OnExceptionState(True), (SaveCheckpoint(self.path),)
        if state.written:
            return OnExceptionState(False), (RemoveCheckpoint(self.path, even_if_resumed=True),)
        return state, NO_EFFECTS

    def __repr__(self) -> str:
        filename = "" if self.filename == "on_exception" else f", filename={self.filename!r}"
        return f"on_exception_checkpoint({self.dirpath!r}{filename})"


def on_exception_checkpoint(dirpath: str | os.PathLike[str], filename: str = "on_exception", *,
                            extension: str = ".ckpt") -> OnExceptionCheckpoint:
    """Save a full, resumable checkpoint at ``dirpath/filename.ckpt`` when fit raises.

    ``dirpath`` is required (an exception can come before the trainer's directory
    is known) and resolved against the working directory; no templating, no version
    counter: the file is replaced, if this run's lineage wrote it (see the trainer's file safety).

    Raises:
        InvalidArgument: an empty ``filename`` or a ``dirpath`` that is not a path.
    """
    if not isinstance(dirpath, (str, os.PathLike)) or not os.fspath(dirpath):
        raise InvalidArgument(f"on_exception_checkpoint: dirpath={dirpath!r} must be a non-empty path")
    if not isinstance(filename, str) or not filename:
        raise InvalidArgument(f"on_exception_checkpoint: filename={filename!r} must be a non-empty string")
    return OnExceptionCheckpoint(os.path.realpath(os.path.expanduser(os.fspath(dirpath))), filename, extension)
