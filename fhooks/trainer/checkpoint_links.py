"""What :class:`~fhooks.hooks.model_checkpoint.LinkCheckpoint` does on disk: ``last.ckpt`` as a relative symlink.

The new link is made under a temporary name and renamed over the old path, so
``last.ckpt`` is never missing nor dangling (the hook removes the old target only
after the link moved). Where symlinks are not permitted the target is copied
instead (also atomically). A folder in the way is never removed: that is an error.

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

from fhooks.errors import CheckpointClash
from fhooks.trainer import checkpoint_files


def link_checkpoint(path: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Make ``path`` a symlink to ``target``, relative to ``path``'s folder; copy where links fail.

    Raises:
        CheckpointClash: ``path`` is a folder (it is left alone).
    """
    path, target = os.fspath(path), os.fspath(target)
    if os.path.isdir(path) and not os.path.islink(path):
        raise CheckpointClash(f"cannot link {path!r} to {target!r}: a folder of that name is there; fhooks never "
                              "removes it. Move it away or choose another dirpath")
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}{checkpoint_files.TEMP_MARK}{uuid.uuid4().hex[:12]}.tmp")
    try:
        try:
            os.symlink(os.path.relpath(target, folder), tmp)
        except (OSError, NotImplementedError):
            shutil.copyfile(target, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise

