"""The table Lightning prints after ``validate``/``test`` (``verbose=True``): a rich table when rich is installed,
else plain text with bars; one column per dataloader (keys ending ``/dataloader_idx_N``).

>>> print(plain([{"val_loss": 0.25}], "validate", width=60))
────────────────────────────────────────────────────────────
     Validate metric           DataLoader 0
────────────────────────────────────────────────────────────
        val_loss                   0.25
────────────────────────────────────────────────────────────
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import Any

import torch


def split(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One dict per dataloader from a dict whose keys may end ``/dataloader_idx_N``."""
    columns: dict[int, dict[str, Any]] = {}
    for key, value in metrics.items():
        name, _, idx = key.partition("/dataloader_idx_")
        columns.setdefault(int(idx) if idx.isdigit() else 0, {})[name] = value
    return [columns.get(i, {}) for i in range(max(columns, default=-1) + 1)]


def _text(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        value = value.item() if value.numel() == 1 else value.tolist()
    return f"{value}"


def _layout(results: list[Mapping[str, Any]], width: int) -> tuple[list[str], list[list[str]], list[str], int]:
    names = sorted({k for r in results for k in r})
    headers = [f"DataLoader {i}" for i in range(len(results))]
    size = int(min(max(max(map(len, names)), max(map(len, headers)), 25), width / 2))
    rows = [[_text(r[n]) if n in r else " " for r in results] for n in names]
    return names, rows, headers, size


def plain(results: list[Mapping[str, Any]], stage: str, width: int | None = None) -> str:
    """The plain-text table (what Lightning prints without rich); ``width``: the terminal's columns."""
    width = width or shutil.get_terminal_size(fallback=(120, 30)).columns or 120
    names, rows, headers, size = _layout(results, width)
    per_table = int((width - size) / size)
    bar = "─" * width
    lines: list[str] = []
    for start in range(0, len(headers), per_table):
        titles = [f"{stage} Metric".capitalize(), *headers[start:start + per_table]]
        fmt = f"{{:^{size}}}" * len(titles)
        lines += [bar, fmt.format(*titles).rstrip(), bar]
        for name, row in zip(names, rows):
            cells = row[start:start + per_table]
            while len(name) > width // 2:  # a long name wraps over several lines
                lines.append(fmt.format(name[:width // 2], *cells).rstrip())
                name, cells = name[width // 2:], [" "] + [""] * (len(cells) - 1)
            lines.append(fmt.format(name, *cells).rstrip())
        lines.append(bar)
    return os.linesep.join(lines)


def show(metrics: Mapping[str, Any], stage: str) -> None:
    """Print the table of ``metrics`` for ``stage`` ("validate"/"test"), as Lightning; nothing without metrics."""
    results = split(metrics)
    if not any(results):
        return
    try:
        from rich import get_console
        from rich.table import Column, Table
    except ImportError:
        print(plain(results, stage))
        return
    width = shutil.get_terminal_size(fallback=(120, 30)).columns or 120
    names, rows, headers, size = _layout(results, width)
    per_table = int((width - size) / size)
    for start in range(0, len(headers), per_table):
        titles = [f"{stage} Metric".capitalize(), *headers[start:start + per_table]]
        columns = [Column(t, justify="center", style="magenta", width=size) for t in titles]
        columns[0].style = "cyan"
        table = Table(*columns)
        for name, row in zip(names, rows):
            table.add_row(name, *row[start:start + per_table])
        get_console().print(table)
