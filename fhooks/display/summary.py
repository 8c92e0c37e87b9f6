"""Model summaries: a table of layers with parameter counts, modes and sizes, as text or a rich table.

>>> import torch
>>> net = torch.nn.Sequential(torch.nn.Linear(32, 2))
>>> lines = format_summary(summarize(net)).splitlines()
>>> [line for line in lines if "Linear" in line or "Total params" in line]
['0 | 0    | Linear | 66     | train', '66        Total params']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import torch

from fhooks.errors import InvalidArgument
from fhooks.hooks.model_summary import RenderSummary
from fhooks.interpret import Context, handles

_BITS = {"64": 64, "64-true": 64, "32": 32, "32-true": 32, "16": 16, "16-true": 16, "bf16": 16, "bf16-true": 16}
UNKNOWN = "?"


def human_count(n: int) -> str:
    """A parameter count as people read it: ``66``, ``1.2 K``, ``100 K``, ``2.0 M``, ``5,000 T``.

    >>> [human_count(n) for n in (123, 1234, 99_999, 100_000, 2_000_000, 5 * 10**15)]
    ['123', '1.2 K', '100.0 K', '100 K', '2.0 M', '5,000 T']
    """
    if n < 1000:
        return f"{n:,d}"
    value, unit = float(n), ""
    for unit in ("K", "M", "B", "T"):
        value /= 1000
        if value < 1000:
            break
    return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


@attrs.frozen
class LayerRow:
    """One row of a summary: a submodule's name, class, parameter count, mode and sizes."""

    name: str
    type: str
    params: int
    mode: str
    in_size: Any = UNKNOWN
    out_size: Any = UNKNOWN


@attrs.frozen
class Summary:
    """A module's summary: its rows, parameter totals, estimated size and mode counts."""

    rows: tuple[LayerRow, ...]
    trainable: int
    non_trainable: int
    size_mb: float
    train_modules: int
    eval_modules: int
    has_sizes: bool = False

    @property
    def total(self) -> int:
        """All parameters, trainable or not."""
        return self.trainable + self.non_trainable


def _count(params: Any) -> int:
    lazy = torch.nn.parameter.UninitializedParameter
    return sum(0 if isinstance(p, lazy) else p.numel() for p in params)


def _layers(module: torch.nn.Module, max_depth: int) -> list[tuple[str, torch.nn.Module]]:
    if max_depth == 1:
        return list(module.named_children())
    layers = [(name, m) for name, m in module.named_modules() if name]
    return layers if max_depth == -1 else [(name, m) for name, m in layers if name.count(".") < max_depth]


def _size(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return list(value.shape)
    if isinstance(value, (list, tuple)):
        return [_size(v) for v in value]
    return UNKNOWN


def _sizes(module: torch.nn.Module, layers: Sequence[tuple[str, torch.nn.Module]]) -> dict[str, tuple[Any, Any]]:
    """Run ``example_input_array`` through the module once, in eval mode without gradients, recording sizes."""
    example = module.example_input_array
    seen: dict[str, tuple[Any, Any]] = {}

    def recorder(name: str) -> Any:
        def hook(_: Any, inputs: Any, output: Any) -> None:
            seen.setdefault(name, (_size(inputs[0] if len(inputs) == 1 else list(inputs)), _size(output)))
        return hook

    handles_ = [m.register_forward_hook(recorder(name)) for name, m in layers]
    modes = {m: m.training for m in module.modules()}
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    example = example.to(device) if isinstance(example, torch.Tensor) else example
    try:
        module.eval()
        with torch.no_grad():
            if isinstance(example, dict):
                module(**example)
            elif isinstance(example, (list, tuple)):
                module(*example)
            else:
                module(example)
    finally:
        for handle in handles_:
            handle.remove()
        for m, training in modes.items():
            m.training = training
    return seen


def summarize(module: torch.nn.Module, max_depth: int = 1, precision: str = "32") -> Summary:
    """Summarize ``module`` to ``max_depth`` levels (-1: all); sizes when it has ``example_input_array``.

    Raises:
        InvalidArgument: ``max_depth`` not an int >= -1.
    """
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < -1:
        raise InvalidArgument(f"summarize: max_depth={max_depth!r} must be an int >= -1")
    layers = _layers(module, max_depth) if max_depth else []
    has_sizes = getattr(module, "example_input_array", None) is not None
    sizes = _sizes(module, layers) if has_sizes else {}
    rows = [LayerRow(name, type(m).__name__, _count(m.parameters()), "train" if m.training else "eval",
                     *sizes.get(name, (UNKNOWN, UNKNOWN))) for name, m in layers]
    total = _count(module.parameters())
    trainable = _count(p for p in module.parameters() if p.requires_grad)
    other = total - sum(r.params for r in rows)
    if other > 0:
        rows.append(LayerRow("other params", "n/a", other, "n/a", "n/a", "n/a"))
    submodules = list(module.modules())[1:]
    train_modules = sum(m.training for m in submodules)
    size_mb = total * _BITS.get(str(precision), 32) / 8 * 1e-6
    return Summary(tuple(rows), trainable, total - trainable, size_mb, train_modules,
                   len(submodules) - train_modules, has_sizes)


def _columns(summary: Summary) -> list[tuple[str, list[str]]]:
    rows = summary.rows
    columns = [(" ", [str(i) if r.type != "n/a" else "" for i, r in enumerate(rows)]),
               ("Name", [r.name for r in rows]), ("Type", [r.type for r in rows]),
               ("Params", [human_count(r.params) for r in rows]), ("Mode", [r.mode for r in rows])]
    if summary.has_sizes:
        columns += [("In sizes", [str(r.in_size) for r in rows]), ("Out sizes", [str(r.out_size) for r in rows])]
    return columns


def totals(summary: Summary) -> list[tuple[str, str]]:
    """The footer: ``(value, label)`` pairs for the parameter totals, size and mode counts."""
    return [(human_count(summary.trainable), "Trainable params"),
            (human_count(summary.non_trainable), "Non-trainable params"),
            (human_count(summary.total), "Total params"),
            (f"{summary.size_mb:,.3f}", "Total estimated model params size (MB)"),
            (str(summary.train_modules), "Modules in train mode"),
            (str(summary.eval_modules), "Modules in eval mode")]


def format_summary(summary: Summary) -> str:
    """The summary as Lightning's plain-text table."""
    columns = _columns(summary)
    widths = [max([len(head), *map(len, values)]) for head, values in columns]
    line = lambda cells: " | ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    header = line([head for head, _ in columns])
    body = [line([values[i] for _, values in columns]) for i in range(len(summary.rows))]
    rule = "-" * max(map(len, [header, *body]))
    footer = [f"{value:<10}{label}" for value, label in totals(summary)]
    return "\n".join([header, rule, *body, rule, *footer])


def rich_summary(summary: Summary, header_style: str = "bold magenta") -> tuple[Any, Any]:
    """The summary as two rich renderables: the layer table and the totals grid."""
    from rich.table import Table

    table = Table(header_style=header_style)
    columns = _columns(summary)
    for head, _ in columns:
        table.add_column(head, justify="right" if head in (" ", "Params") else "left")
    for i in range(len(summary.rows)):
        table.add_row(*(values[i] for _, values in columns))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold")
    grid.add_column()
    for value, label in totals(summary):
        grid.add_row(f"{label}:", value)
    return table, grid


@handles(RenderSummary)
def _render_summary(effect: RenderSummary, ctx: Context) -> None:
    if getattr(ctx.trainer, "global_rank", 0) != 0:
        return
    summary = summarize(ctx.module, effect.max_depth, getattr(ctx.trainer, "precision", "32"))
    if effect.style == "rich":
        from fhooks.callbacks.progress import require_rich

        require_rich("RichModelSummary")
        from fhooks.display.rich_renderer import console_for

        console = console_for(ctx.trainer)
        for renderable in rich_summary(summary, **dict(effect.options)):
            console.print(renderable)
    else:
        print(format_summary(summary), flush=True)
