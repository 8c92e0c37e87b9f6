"""``OnExceptionCheckpoint``: Lightning's class, over :func:`~fhooks.hooks.on_exception_checkpoint`.

>>> cb = OnExceptionCheckpoint("/runs/a", filename="crash")
>>> cb.ckpt_path
'/runs/a/crash.ckpt'
>>> cb
OnExceptionCheckpoint('/runs/a', filename='crash')
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from fhooks.callbacks.base import HookCallback
from fhooks.callbacks.checkpoint import Checkpoint
from fhooks.hooks.on_exception_checkpoint import OnExceptionCheckpoint as OnExceptionHook
from fhooks.hooks.on_exception_checkpoint import on_exception_checkpoint


class OnExceptionCheckpoint(HookCallback, Checkpoint):
    """Save a resumable checkpoint when fit raises; delete it again after a clean run.

    Raises:
        InvalidArgument: an empty ``filename`` (Lightning raises ``ValueError``; this is one).
    """

    FILE_EXTENSION: ClassVar[str] = ".ckpt"
    hook: OnExceptionHook

    def __init__(self, dirpath: str | os.PathLike[str], filename: str = "on_exception") -> None:
        self._wrap(on_exception_checkpoint(dirpath, filename, extension=self.FILE_EXTENSION))

    dirpath = property(lambda self: self.hook.dirpath, doc="The directory of the checkpoint.")
    filename = property(lambda self: self.hook.filename, doc="Its name, without extension.")

    @property
    def ckpt_path(self) -> str:
        """``dirpath/filename.ckpt``."""
        return self.hook.path

    def state_dict(self) -> dict[str, Any]:
        """Whether the file was written, so a resumed run removes it after finishing cleanly."""
        return super().state_dict() if self._state.written else {}

    def __repr__(self) -> str:
        return type(self).__qualname__ + repr(self.hook)[len("on_exception_checkpoint"):]
