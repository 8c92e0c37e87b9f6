"""Crash stress: kill trainings at random moments (SIGKILL, SIGINT, SIGTERM in turn), resume, compare exactly.

    python benchmarks/crash.py --kills 120 --folder /tmp/crash-runs

Prints how many signals hit a running training, how many resumes it took, and how many
trials ended bit-identical to the uninterrupted run (weights, momentum, step, hook state).
"""

from __future__ import annotations

import argparse
import tempfile

from fhooks.testing.crash import run_trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=120)
    parser.add_argument("--kills-per-trial", type=int, default=2)
    parser.add_argument("--batches", type=int, default=16, help="batches per epoch (3 epochs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folder", default=None)
    args = parser.parse_args()
    folder = args.folder or tempfile.mkdtemp(prefix="fhooks-crash-")
    report = run_trials(folder, kills=args.kills, seed=args.seed, kills_per_trial=args.kills_per_trial,
                        batches=args.batches)
    print(f"trials {report.trials}, kills {report.kills} {report.by_signal}, signals after the run ended "
          f"{report.missed}, resumes {report.resumes}, exact {report.exact}/{report.trials}, "
          f"{report.seconds:.0f} s (runs in {folder})")
    for line in report.mismatches:
        print("MISMATCH", line)


if __name__ == "__main__":
    main()
