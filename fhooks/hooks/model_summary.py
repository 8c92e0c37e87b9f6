"""``model_summary``: print a table of the model's layers when fitting starts (Lightning's ``ModelSummary``).

>>> from fhooks.core import Event, fold
>>> summary = model_summary(max_depth=2)
>>> summary
model_summary(max_depth=2)
>>> fold(summary, [Event("fit_start"), Event("fit_start", stage="validate")])[1]
(RenderSummary(max_depth=2, style='plain', options=frozendict({})),)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from fhooks.core.effects import NO_EFFECTS, Effect, Effects
from fhooks.core.events import Event
from fhooks.core.frozendict import EMPTY, frozendict
from fhooks.errors import InvalidArgument

#: The looks a summary comes in: Lightning's text table, or a rich table.
SUMMARY_STYLES: tuple[str, ...] = ("plain", "rich")


@attrs.frozen
class RenderSummary(Effect):
    """Print the module's summary table, ``max_depth`` levels deep (-1: all), as ``style``.

    ``options`` are the rich table's keyword options (``header_style``).
    """

    max_depth: int = 1
    style: str = "plain"
    options: Mapping[str, Any] = attrs.field(default=EMPTY, converter=frozendict)


@attrs.frozen(repr=False)
class ModelSummaryHook:
    """The hook :func:`model_summary` builds; stateless."""

    max_depth: int = 1
    style: str = "plain"
    options: Mapping[str, Any] = attrs.field(default=EMPTY, converter=frozendict)
    kinds: frozenset[str] = frozenset({"fit_start"})
    shape_name = "model_summary"
    init = None

    def step(self, state: None, event: Event) -> tuple[None, Effects]:
        if event.stage != "fit" or not self.max_depth or event.rank != 0:
            return state, NO_EFFECTS
        return state, (RenderSummary(self.max_depth, self.style, self.options),)

    def __repr__(self) -> str:
        args = [f"max_depth={self.max_depth}"] if self.max_depth != 1 else []
        if self.style != "plain":
            args.append(f"style={self.style!r}")
        args += [f"{k}={v!r}" for k, v in self.options.items()]
        return f"model_summary({', '.join(args)})"


def model_summary(max_depth: int = 1, *, style: str = "plain", **options: Any) -> ModelSummaryHook:
    """Print a summary of the module at ``fit_start``: layers to ``max_depth`` (-1: all, 0: nothing).

    The table has each layer's name, type, parameter count and mode, with input
    and output sizes when the module has ``example_input_array``; then trainable,
    non-trainable and total parameters and the estimated size in MB. Only on rank 0,
    and not for validate, test or predict.

    Raises:
        InvalidArgument: ``max_depth`` not an int >= -1, or ``style`` not ``'plain'``/``'rich'``.

    See Also:
        :class:`fhooks.callbacks.ModelSummary`, :class:`fhooks.callbacks.RichModelSummary`.
    """
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < -1:
        raise InvalidArgument(f"model_summary: max_depth={max_depth!r} must be an int >= -1 "
                              "(-1: every layer, 0: no summary)")
    if style not in SUMMARY_STYLES:
        raise InvalidArgument(f"model_summary: style={style!r} must be one of {', '.join(map(repr, SUMMARY_STYLES))}")
    return ModelSummaryHook(max_depth, style, options)
