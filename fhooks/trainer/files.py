"""Handler of :class:`~fhooks.hooks.spike.WriteJson`: write a small JSON file atomically.

>>> import json, tempfile, os
>>> from fhooks.hooks.spike import WriteJson
>>> folder = tempfile.mkdtemp()
>>> path = write_json_atomic(os.path.join(folder, "a", "skip.json"), (3, 4))
>>> json.loads(path.read_text())
[3, 4]
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fhooks.hooks.spike import WriteJson
from fhooks.trainer.checkpoint import write_atomically
from fhooks.interpret import Context, handles


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as JSON (indent 4) to ``path`` through a temporary file and a rename; parents are created."""
    return write_atomically(path, lambda f: json.dump(data, f, indent=4), binary=False)


@handles(WriteJson)
def _write_json(effect: WriteJson, ctx: Context) -> None:
    if getattr(ctx.trainer, "global_rank", 0) != 0:
        return
    path = Path(effect.path)
    if effect.in_root_dir and not path.is_absolute():
        path = Path(getattr(ctx.trainer, "default_root_dir", None) or os.getcwd()) / path
    write_json_atomic(path, effect.data)
