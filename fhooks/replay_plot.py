"""The picture of a replay: the monitored metric per epoch, where the hook would have stopped, what it kept.

Needs matplotlib (``pip install 'fhooks[plot]'``); imported only when a report is plotted.
"""

from __future__ import annotations

import os
from typing import Any

from fhooks.core.effects import SaveCheckpoint
from fhooks.errors import InvalidArgument
from fhooks.replay import ReplayReport
from fhooks.replay_sweep import epoch_values, monitored


def checkpoint_epochs(report: ReplayReport) -> dict[str, int]:
    """The epoch each kept checkpoint was saved at, by path (the last save of a path wins).

    >>> from fhooks.hooks import model_checkpoint
    >>> from fhooks.replay import replay
    >>> rows = [{"epoch": e, "step": e, "val_loss": v} for e, v in enumerate([3.0, 1.0, 2.0])]
    >>> checkpoint_epochs(replay(model_checkpoint(monitor="val_loss"), rows))
    {'epoch=1-step=2.ckpt': 1}
    """
    saved = {e.path: row.epoch for row in report.rows for e in row.effects if isinstance(e, SaveCheckpoint)}
    return {path: saved[path] for path in report.kept_checkpoints if path in saved}


def plot_report(report: ReplayReport, metric: str | None = None, *, path: str | os.PathLike[str] | None = None,
                ax: Any = None) -> Any:
    """Draw ``report``'s monitored metric per epoch, its stop point and kept checkpoints; return the Figure.

    The whole logged run is drawn; epochs after the stop are faded (the replayed hook would not have run them).

    Raises:
        InvalidArgument: no ``metric`` given and the hook monitors none, or ``metric`` is not in the table.
    """
    import matplotlib.pyplot as plt

    name = metric or (monitored(report.hook) or (None,))[0]
    columns = sorted({k for row in report.table for k in row} - {"epoch", "step"})
    if name is None:
        raise InvalidArgument(f"plot: {report.hook!r} monitors no metric; pass one of: {', '.join(columns)}")
    values = epoch_values(report.table, name)
    if not values:
        raise InvalidArgument(f"plot: metric {name!r} is not in the table (have: {', '.join(columns)})")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    stop = report.stopped_epoch
    ran = {e: v for e, v in values.items() if stop is None or e <= stop}
    after = {e: v for e, v in values.items() if stop is not None and e >= stop}
    ax.plot(list(ran), list(ran.values()), "o-", color="tab:blue", markersize=3, label=f"{name} (replayed)")
    if len(after) > 1:
        ax.plot(list(after), list(after.values()), "o--", color="tab:blue", alpha=0.3, markersize=3,
                label="after the stop (the logged run went on)")
    if stop is not None:
        ax.axvline(stop, color="tab:red", linestyle=":", label=f"would stop at epoch {stop}")
    kept = checkpoint_epochs(report)
    if kept:
        epochs = sorted(set(kept.values()))
        ax.scatter(epochs, [values.get(e, float("nan")) for e in epochs], s=90, marker="*", color="tab:orange",
                   zorder=3, label=f"kept checkpoints ({len(kept)})")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(name)
    ax.set_title(f"replay of {report.hook!r}", fontsize=8)
    ax.legend(fontsize=8)
    figure = ax.figure
    if path is not None:
        figure.savefig(path, dpi=110, bbox_inches="tight")
    return figure
