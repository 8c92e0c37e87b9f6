"""Machine instructions per training step of each variant of ``overhead.py``, counted by valgrind's callgrind.

Wall-clock figures on a shared machine swing by tens of µs from run to run; an instruction count does
not: the same code, inputs and environment give the same count whatever else the machine is doing. Each
variant runs in its own process under ``valgrind --tool=callgrind``, counting only its training (a
client request starts and stops the count), once with 100 steps and once with 600; the difference over
500 is the steady cost of one step (start-up and one-off costs cancel). Every run first trains 600
steps uncounted, so the checkpoint written every 500 steps is counted in its steady-state cost.

The tqdm bar redraws at most every 0.1 s of wall-clock time; under valgrind a step takes some 50 times
longer, so the bar would redraw every few steps instead of every few hundred. The count therefore keeps
the bar from redrawing mid-epoch (``FHOOKS_PROGRESS_MININTERVAL``): it is the bar's per-step cost, its
redraws (about one per 0.1 s) aside.

    python benchmarks/instructions.py                # about five minutes on 2 cores
    python benchmarks/instructions.py hand none      # some variants only
    python benchmarks/instructions.py --repeat 3     # the median of three processes per variant

Needs valgrind and its headers (Debian: ``apt-get install valgrind``) and a C compiler.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import ctypes
import functools
import os
import re
import statistics
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

_CONTROL = """
#include <valgrind/callgrind.h>
void count_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void count_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; }
"""
VARIANTS = ("hand", "hand_same_work", "hand_module", "fhooks_none", "fhooks_stack", "fhooks_bar", "ignite", "ignite_resumable")


def _variant(name: str):
    import overhead

    return {"hand": overhead.hand_loop, "hand_same_work": overhead.hand_loop_same_work,
            "hand_module": overhead.hand_loop_module,
            "fhooks_none": overhead.fhooks_trainer(stack=False), "fhooks_stack": overhead.fhooks_trainer(stack=True),
            "fhooks_bar": overhead.fhooks_trainer(stack=True, bar=True), "ignite": overhead.ignite_trainer,
            "ignite_resumable": functools.partial(overhead.ignite_trainer, resumable=True)}[name]


def child(name: str, steps: int, library: str) -> None:
    """Inside valgrind: warm up uncounted, then train ``steps`` steps counted."""
    import overhead

    warnings.simplefilter("ignore")
    run, control = _variant(name), ctypes.CDLL(library)
    data = overhead.batches(max(steps, 600))
    with tempfile.TemporaryDirectory() as directory:
        run(data[:600], directory)
        run(data[:50], directory)
        control.count_start()
        run(data[:steps], directory)
        control.count_stop()


def _control_library(folder: str) -> str:
    source, library = Path(folder, "control.c"), Path(folder, "control.so")
    source.write_text(_CONTROL)
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(library), str(source)], check=True)
    return str(library)


def _count(name: str, steps: int, library: str, folder: str, run: int) -> int:
    out = os.path.join(folder, f"callgrind.{name}.{steps}.{run}")
    env = {**os.environ, "PYTHONHASHSEED": "0", "FHOOKS_PROGRESS_MININTERVAL": "1e9", "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parent), str(Path(__file__).parent.parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                           sys.executable, __file__, "--child", name, str(steps), library],
                          capture_output=True, text=True, env=env)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{name}, {steps} steps: valgrind failed\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_step(name: str, library: str, folder: str, run: int = 0) -> float:
    """Instructions of one steady training step of ``name`` (``run``: which repetition)."""
    return (_count(name, 600, library, folder, run) - _count(name, 100, library, folder, run)) / 500


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", help=f"any of {', '.join(VARIANTS)} (default: all)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="processes per variant; the median is reported (each process lays its tensors out anew, "
                             "which moves a count by up to 0.5%%)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2])
        return
    chosen = args.variants or list(VARIANTS)
    unknown = sorted(set(chosen) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    names = chosen if "hand" in chosen else ["hand", *chosen]
    with tempfile.TemporaryDirectory() as folder:
        library = _control_library(folder)
        jobs = [(name, run) for run in range(args.repeat) for name in names]
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            found = list(pool.map(lambda job: per_step(job[0], library, folder, job[1]), jobs))
    counts = {name: statistics.median(c for (n, _), c in zip(jobs, found) if n == name) for name in names}
    hand = counts["hand"]
    print(f"{'variant':<18}{'instructions/step':>19}{'ratio':>8}{'overhead':>11}")
    for name, count in counts.items():
        print(f"{name:<18}{count:>19,.0f}{count / hand:>8.3f}{count - hand:>11,.0f}")
    for ignite in ("ignite", "ignite_resumable"):
        if "fhooks_stack" in counts and ignite in counts:
            ratio = (counts["fhooks_stack"] - hand) / (counts[ignite] - hand)
            print(f"fhooks typical-stack overhead / {ignite}'s: {ratio:.2f}")
    if "hand_module" in counts and "fhooks_none" in counts:
        print(f"fhooks, no hooks / the hand loop calling the same module: {counts['fhooks_none'] / counts['hand_module']:.3f}")
    if "fhooks_bar" in counts and "fhooks_stack" in counts:
        print(f"tqdm bar: {100 * (counts['fhooks_bar'] - counts['fhooks_stack']) / counts['fhooks_stack']:+.1f}% per step")


if __name__ == "__main__":
    main()
