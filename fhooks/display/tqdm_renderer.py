"""The tqdm renderer: Lightning's ``TQDMProgressBar`` look, or plain lines when stdout is not a terminal.

>>> Bar.format_num(0.5), Bar.format_num(1.23456789), Bar.format_num(10.0), Bar.format_num(1e-5)
('0.500', '1.230', '10.00', '1e-5')
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import Any

from tqdm import tqdm

from fhooks.display.plain_renderer import PlainBar, Renderer, postfix

#: Lightning's bar layout: counts, times and the rate, then the metrics.
BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}{postfix}]"
_PAD = 5


class Bar(tqdm):
    """A tqdm bar whose metric values keep a steady width (``0.5`` shows as ``0.500``), so it does not flicker."""

    @staticmethod
    def format_num(n: Any) -> str:
        text = n if isinstance(n, str) else tqdm.format_num(n)
        if not isinstance(n, (float, str)) or "e" in text or (isinstance(n, float) and not math.isfinite(n)):
            return text
        if "." not in text:
            try:
                float(text)
            except ValueError:
                return text
            text += "."
        return text + "0" * (_PAD - len(text))


class TqdmBar:
    """One tqdm bar behind the interface the renderer speaks (reset, update, close)."""

    def __init__(self, description: str, total: int | None, position: int, leave: bool) -> None:
        self.bar = Bar(total=total, desc=description, position=position, leave=leave, dynamic_ncols=True,
                       file=sys.stdout, smoothing=0, bar_format=BAR_FORMAT)

    def reset(self, total: int | None, description: str) -> None:
        self.bar.set_description(description, refresh=False)
        self.bar.reset(total=total)

    def update(self, count: int, total: int | None, description: str, postfix: Mapping[str, Any],
               final: bool = False) -> None:
        bar = self.bar
        if bar.total != total:
            bar.total = total
        bar.n = count
        if postfix:
            bar.set_postfix(postfix, refresh=False)
        bar.refresh()

    def close(self) -> None:
        self.bar.close()


class TqdmRenderer(Renderer):
    """Draws :class:`~fhooks.hooks.progress.Render` effects of a :class:`~fhooks.hooks.progress.TqdmStyle`.

    Bars: sanity check, train (one line reset each epoch, or a new line per epoch
    with ``leave``), validation (below the train bar while fitting, cleared after),
    test and predict. When ``sys.stdout`` is not a terminal each bar is a
    :class:`~fhooks.display.plain_renderer.PlainBar` instead.
    """

    def __init__(self, style: Any) -> None:
        super().__init__(style)
        self.bars: dict[str, Any] = {}

    def _place(self, name: str) -> tuple[int, bool]:
        base = 2 * self.style.process_position
        if name == "train":
            return base, True
        if name == "sanity":
            return base, False
        if name == "validation" and "train" in self.bars:
            return base + 1, False
        return base, True

    def _new(self, name: str, effect: Any) -> Any:
        if not sys.stdout.isatty():
            return PlainBar(effect.description, effect.total)
        position, leave = self._place(name)
        return TqdmBar(effect.description, effect.total, position, leave)

    def close_all(self) -> None:
        """Finish every open bar (fit ended or failed)."""
        bars, self.bars = self.bars, {}
        for bar in bars.values():
            bar.close()

    def draw(self, effect: Any, ctx: Any) -> None:
        name, action = effect.bar, effect.action
        if name == "all":
            self.close_all()
            return
        bar = self.bars.get(name)
        if action == "start":
            if bar is not None and name == "train" and not self.style.leave:
                bar.reset(effect.total, effect.description)
                return
            if bar is not None:
                bar.close()
            self.bars[name] = self._new(name, effect)
            return
        if bar is None:
            bar = self.bars[name] = self._new(name, effect)
        shown = postfix(effect, ctx) if name == "train" else {}
        bar.update(effect.count, effect.total, effect.description, shown, final=action == "close")
        if action == "close" and (name != "train" or self.style.leave):
            del self.bars[name]
            bar.close()
