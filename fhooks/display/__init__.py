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


def renderer_for(trainer: Any, style: Any) -> Any:
    """The renderer of ``style`` for ``trainer``, made on first use."""
    table = renderers(trainer)
    renderer = table.get(style)
    if renderer is None:
        if isinstance(style, RichStyle):
            from fhooks.display.rich_renderer import RichRenderer

            renderer = RichRenderer(style)
        else:
            from fhooks.display.tqdm_renderer import TqdmRenderer

            renderer = TqdmRenderer(style)
        table[style] = renderer
    return renderer


@handles(Render)
def _render(effect: Render, ctx: Context) -> None:
    """Draw ``effect`` now: the hook has throttled the updates, and renders on global rank 0 only."""
    trainer = ctx.trainer
    table = getattr(trainer, _ATTR, None)  # renderer_for, inlined: this runs once per drawn update
    renderer = table.get(effect.style) if table else None
    (renderer or renderer_for(trainer, effect.style)).draw(effect, ctx)


__all__ = ["renderer_for", "renderers"]
