"""The crash harness's fast subset: trainings killed (SIGKILL), interrupted (SIGINT) and terminated (SIGTERM) at
random moments in child processes resume to the uninterrupted run's exact weights, optimizer state and hook state.

The long run is ``benchmarks/crash.py`` (100+ kills); its figures are in docs/trainer.md.
"""

from __future__ import annotations

import multiprocessing.forkserver
import multiprocessing.process

import pytest

from fhooks.testing.crash import SIGNALS, run_trials


@pytest.fixture(autouse=True, scope="module")
def _one_forkserver_folder(tmp_path_factory):
    """The forkserver (shared by these tests) keeps its socket in multiprocessing's temporary folder, made once per
    process: give it one that outlives each test's own tmp_path, and stop the server after the module."""
    config = multiprocessing.process.current_process()._config
    config["tempdir"] = str(tmp_path_factory.mktemp("multiprocessing"))
    yield
    multiprocessing.forkserver._forkserver._stop()
    config.pop("tempdir", None)


def test_killed_and_interrupted_runs_resume_exactly(tmp_path):
    report = run_trials(tmp_path, kills=3, seed=11, batches=6)
    assert report.mismatches == []
    assert report.kills == 3 and sorted(report.by_signal) == sorted(SIGNALS)
    assert report.exact == report.trials and report.resumes >= report.kills


def test_two_kills_in_one_trial_resume_exactly(tmp_path):
    report = run_trials(tmp_path, kills=2, seed=4, signals=("SIGKILL", "SIGINT"), kills_per_trial=2, batches=6)
    assert report.mismatches == [] and report.exact == report.trials
