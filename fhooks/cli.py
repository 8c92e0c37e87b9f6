"""``python -m fhooks replay``: what would early stopping (and checkpointing) have done on a logged run?

    python -m fhooks replay metrics.csv --early-stopping val_loss --patience 5
    python -m fhooks replay metrics.csv --early-stopping val_loss --patience 1..10 --save-top-k 2
    python -m fhooks replay metrics.csv --early-stopping val_acc --mode max --patience 3 --plot replay.png

One setting prints the replay (the rows where something happened, the stop, the kept checkpoints); a range
(``1..10``) or a list (``1,3,5``) in any option prints one row per setting of the grid.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from fhooks.core.combinators import sequence
from fhooks.errors import FhooksError
from fhooks.hooks import early_stopping, model_checkpoint
from fhooks.replay import replay
from fhooks.replay_sweep import sweep


def values(text: str, kind: type = int) -> list[Any]:
    """``"5"`` -> ``[5]``, ``"1..4"`` -> ``[1, 2, 3, 4]``, ``"0,0.1"`` -> ``[0.0, 0.1]`` (with ``kind=float``).

    >>> values("1..4"), values("0,0.5", float)
    ([1, 2, 3, 4], [0.0, 0.5])
    """
    try:
        if ".." in text and kind is int:
            low, high = (int(part) for part in text.split(".."))
            return list(range(low, high + 1))
        return [kind(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}, a list a,b,c or (for ints) a range "
                                         "a..b") from None


def parser() -> argparse.ArgumentParser:
    """The command line: ``python -m fhooks replay METRICS --early-stopping MONITOR [options]``."""
    top = argparse.ArgumentParser(prog="python -m fhooks", description="fhooks on the command line")
    commands = top.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("replay", help="what would early stopping have done on a logged metrics.csv?",
                              description=__doc__.split("\n\n")[0])
    cmd.add_argument("metrics", help="a metrics.csv in Lightning's CSVLogger layout (fhooks writes the same)")
    cmd.add_argument("--early-stopping", metavar="MONITOR", required=True, help="the metric to monitor, e.g. val_loss")
    cmd.add_argument("--patience", type=values, default=[3], help="checks without improvement: 5, 1..10 or 2,5,8")
    cmd.add_argument("--min-delta", type=lambda t: values(t, float), default=[0.0], help="0.0, or a list 0,0.01")
    cmd.add_argument("--mode", choices=("min", "max"), default="min", help="min (a loss) or max (an accuracy)")
    cmd.add_argument("--save-top-k", type=values, default=[1], help="checkpoints kept by the monitor: 1, 3 or 1..3")
    cmd.add_argument("--plot", metavar="PNG", help="write the picture of the replay (one setting only)")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit status (2 for bad input, with the reason on stderr)."""
    cli = parser()
    args = cli.parse_args(argv)
    monitor, mode = args.early_stopping, args.mode

    def build(patience: int, min_delta: float, save_top_k: int) -> Any:
        return sequence(model_checkpoint(monitor=monitor, mode=mode, save_top_k=save_top_k),
                        early_stopping(monitor, patience=patience, min_delta=min_delta, mode=mode))

    grid = {"patience": args.patience, "min_delta": args.min_delta, "save_top_k": args.save_top_k}
    try:
        if all(len(v) == 1 for v in grid.values()):
            report = replay(build(*(v[0] for v in grid.values())), args.metrics)
            print(report)
            if args.plot:
                import matplotlib.pyplot as plt

                plt.close(report.plot(path=args.plot))
                print(f"plot written to {args.plot}")
            return 0
        if args.plot:
            cli.error("--plot draws one setting; give single values to --patience, --min-delta and --save-top-k")
        swept = {k: v for k, v in grid.items() if len(v) > 1}
        fixed = {k: v[0] for k, v in grid.items() if len(v) == 1}
        print(sweep(lambda **s: build(**fixed, **s), args.metrics, **swept))
        return 0
    except (FhooksError, OSError) as error:
        print(f"python -m fhooks replay: {error}", file=sys.stderr)
        return 2
