"""What :class:`~fhooks.hooks.model_checkpoint.LinkCheckpoint` does on disk: ``last.ckpt`` as a relative symlink.

The link is made under a temporary name and renamed over the old path, so a
reader never sees ``last.ckpt`` missing; where symlinks are not permitted the
target is copied instead (also atomically).

>>> import os, pathlib, tempfile
>>> d = tempfile.mkdtemp()
>>> _ = pathlib.Path(d, "epoch=1.ckpt").write_text("x")
>>> link_checkpoint(os.path.join(d, "last.ckpt"), os.path.join(d, "epoch=1.ckpt"))
>>> os.readlink(os.path.join(d, "last.ckpt"))
'epoch=1.ckpt'
"""

from __future__ import annotations

import os
import shutil
import uuid


def link_checkpoint(path: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Make ``path`` a symlink to ``target``, relative to ``path``'s folder; copy where links fail."""
    path, target = os.fspath(path), os.fspath(target)
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        os.symlink(os.path.relpath(target, folder), tmp)
    except (OSError, NotImplementedError):
        shutil.copyfile(target, tmp)
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    os.replace(tmp, path)
