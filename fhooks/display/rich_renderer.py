"""The rich renderer: Lightning's ``RichProgressBar`` look (needs ``pip install 'fhooks[rich]'``).

>>> from fhooks.callbacks.progress import RichProgressBarTheme
>>> metrics_text({"loss": 0.25, "epoch": 3}, RichProgressBarTheme())
'loss: 0.250 epoch: 3'
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from typing import Any

from fhooks.callbacks.progress import RichProgressBarTheme, require_rich
from fhooks.display.plain_renderer import Renderer, postfix
from fhooks.hooks.progress import RichStyle

require_rich("fhooks.display.rich_renderer")

from rich import get_console  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn  # noqa: E402
from rich.text import Text  # noqa: E402

__all__ = ["RichRenderer", "console_for", "metrics_text", "require_rich"]


def metrics_text(metrics: Mapping[str, Any], theme: RichProgressBarTheme) -> str:
    """Metrics as ``name: value`` joined by the theme's delimiter; floats in the theme's format."""
    parts = []
    for name, value in metrics.items():
        shown = value if isinstance(value, (int, str)) else format(float(value), theme.metrics_format)
        parts.append(f"{name}: {shown}")
    return theme.metrics_text_delimiter.join(parts)


def _clock(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-:--:--"
    return str(datetime.timedelta(seconds=int(seconds)))


class _Column(ProgressColumn):
    """A column of text computed from the task, in one style."""

    def __init__(self, text: Any, style: str) -> None:
        super().__init__()
        self.text, self.style = text, style

    def render(self, task: Task) -> Text:
        return Text(self.text(task), style=self.style)


def columns(theme: RichProgressBarTheme) -> tuple[ProgressColumn, ...]:
    """Description, bar, ``done/total``, ``elapsed • remaining``, speed, metrics."""
    return (
        TextColumn("{task.description}", style=theme.description),
        BarColumn(complete_style=theme.progress_bar, finished_style=theme.progress_bar_finished,
                  pulse_style=theme.progress_bar_pulse),
        _Column(lambda t: f"{int(t.completed)}/{'--' if t.total is None else int(t.total)}", theme.batch_progress),
        _Column(lambda t: f"{_clock(t.elapsed)} • {_clock(t.time_remaining)}", theme.time),
        _Column(lambda t: f"{t.speed or 0.0:.2f}it/s", theme.processing_speed),
        _Column(lambda t: t.fields.get("metrics", ""), theme.metrics),
    )


class RichRenderer(Renderer):
    """Draws :class:`~fhooks.hooks.progress.Render` effects of a :class:`~fhooks.hooks.progress.RichStyle`.

    One rich ``Progress`` holds a task per bar; evaluation tasks are hidden after a
    fit's validation; with ``leave`` the ``Progress`` restarts each epoch so old bars stay.
    """

    def __init__(self, style: Any) -> None:
        super().__init__(style)
        self.theme = style.theme if isinstance(style.theme, RichProgressBarTheme) else RichProgressBarTheme()
        self.console = Console(**dict(style.console_kwargs))
        self.progress: Progress | None = None
        self.tasks: dict[str, Any] = {}

    def _progress(self) -> Progress:
        if self.progress is None:
            self.progress = Progress(*columns(self.theme), console=self.console, auto_refresh=False)
            self.progress.start()
        return self.progress

    def stop(self) -> None:
        """Finish the display; what it showed stays on the console."""
        if self.progress is not None:
            self.progress.stop()
        self.progress, self.tasks = None, {}

    def draw(self, effect: Any, ctx: Any) -> None:
        name, action = effect.bar, effect.action
        if name == "all":
            self.stop()
            return
        progress = self._progress()
        task = self.tasks.get(name)
        if action == "start":
            if task is not None and name == "train":
                progress.reset(task, total=effect.total, description=effect.description, visible=True)
            else:
                self.tasks[name] = progress.add_task(effect.description, total=effect.total, metrics="")
            progress.refresh()
            return
        if task is None:
            task = self.tasks[name] = progress.add_task(effect.description, total=effect.total, metrics="")
        shown = metrics_text(postfix(effect, ctx), self.theme) if name == "train" else ""
        progress.update(task, completed=effect.count, total=effect.total, description=effect.description,
                        metrics=shown)
        progress.refresh()
        if action == "close":
            self._finish(name, task)

    def _finish(self, name: str, task: Any) -> None:
        if name == "train":
            if self.style.leave:
                self.stop()
            return
        if name == "sanity" or "train" in self.tasks:
            self.progress.update(task, visible=False)
            del self.tasks[name]
            self.progress.refresh()
        else:
            self.stop()


def console_for(trainer: Any) -> Any:
    """The console to print on: that of the trainer's rich progress bar, if it has one, else rich's own."""
    from fhooks.display import renderer_for, renderers

    found = next((r for r in renderers(trainer).values() if isinstance(r, RichRenderer)), None)
    if found is None:
        styles = (getattr(getattr(cb, "hook", None), "style", None) for cb in getattr(trainer, "callbacks", ()))
        style = next((s for s in styles if isinstance(s, RichStyle)), None)
        found = renderer_for(trainer, style) if style is not None else None
    return found.console if found is not None else get_console()
