"""``ModelSummary`` and ``RichModelSummary``: Lightning's classes over :func:`~fhooks.hooks.model_summary.model_summary`.

>>> from fhooks.core import Event, fold
>>> ModelSummary(max_depth=2)
ModelSummary(max_depth=2)
>>> fold(ModelSummary(), [Event("fit_start")])[1]
(RenderSummary(max_depth=1, style='plain', options=frozendict({})),)
"""

from __future__ import annotations

from typing import Any

from fhooks.callbacks.base import HookCallback
from fhooks.callbacks.progress import require_rich
from fhooks.hooks.model_summary import ModelSummaryHook, model_summary


class ModelSummary(HookCallback):
    """Print a table of the module's layers at fit start, ``max_depth`` levels deep (-1: all, 0: none).

    Raises:
        InvalidArgument: ``max_depth`` not an int >= -1.
    """

    hook: ModelSummaryHook

    def __init__(self, max_depth: int = 1, **summarize_kwargs: Any) -> None:
        self._wrap(model_summary(max_depth, **summarize_kwargs))

    @property
    def max_depth(self) -> int:
        """How many levels of submodules the table lists."""
        return self.hook.max_depth

    def __repr__(self) -> str:
        args = [f"max_depth={self.max_depth}"] if self.max_depth != 1 else []
        args += [f"{k}={v!r}" for k, v in self.hook.options.items()]
        return f"{type(self).__name__}({', '.join(args)})"


class RichModelSummary(ModelSummary):
    """The same table drawn with rich; ``header_style`` (default ``"bold magenta"``) styles the header.

    Raises:
        ModuleNotFoundError: rich is not installed (``pip install 'fhooks[rich]'``).
        InvalidArgument: ``max_depth`` not an int >= -1.
    """

    def __init__(self, max_depth: int = 1, **summarize_kwargs: Any) -> None:
        require_rich("RichModelSummary")
        self._wrap(model_summary(max_depth, style="rich", **summarize_kwargs))
