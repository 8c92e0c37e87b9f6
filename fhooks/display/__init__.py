"""Drawing what display hooks ask for: progress bars (tqdm, rich, plain lines) and model summaries.

Importing this package registers the handlers of :class:`~fhooks.hooks.progress.Render`
and :class:`~fhooks.hooks.model_summary.RenderSummary`. Renderers live on the
trainer (one per style), created on first use:

>>> from fhooks.hooks.progress import Render
>>> from fhooks.interpret import HANDLERS
>>> Render in HANDLERS
True
"""

from __future__ import annotations

import os
from typing import Any

from fhooks.display import summary as _summary  # noqa: F401  (registers RenderSummary's handler)
from fhooks.hooks.progress import Render, RichStyle
from fhooks.interpret import Context, handles

_ATTR = "_fhooks_renderers"


def renderers(trainer: Any) -> dict[Any, Any]:
    """The renderers drawing for ``trainer``, by style (created lazily, kept between runs)."""
    found = getattr(trainer, _ATTR, None)
    if found is None:
        found = {}
        setattr(trainer, _ATTR, found)
    return found


def min_interval() -> float:
    """Seconds between two redraws of a bar (``FHOOKS_PROGRESS_MININTERVAL``, default 0.1, tqdm's own)."""
    return float(os.environ.get("FHOOKS_PROGRESS_MININTERVAL", "0.1"))


def renderer_for(trainer: Any, style: Any) -> Any:
    """The renderer of ``style`` for ``trainer``, made on first use."""
    table = renderers(trainer)
    renderer = table.get(style)
    if renderer is None:
        if isinstance(style, RichStyle):
            from fhooks.display.rich_renderer import RichRenderer

            renderer = RichRenderer(style, min_interval())
        else:
            from fhooks.display.tqdm_renderer import TqdmRenderer

            renderer = TqdmRenderer(style, min_interval())
        table[style] = renderer
    return renderer


@handles(Render)
def _render(effect: Render, ctx: Context) -> None:
    trainer = ctx.trainer
    if getattr(trainer, "global_rank", 0) == 0:
        table = getattr(trainer, _ATTR, None)  # renderer_for, inlined: this runs once per rendered batch
        renderer = table.get(effect.style) if table else None
        (renderer or renderer_for(trainer, effect.style)).draw(effect, ctx)


__all__ = ["min_interval", "renderer_for", "renderers"]
