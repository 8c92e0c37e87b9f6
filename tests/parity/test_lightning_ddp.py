"""``as_callback`` under Lightning's DDP on CPU (gloo, 2 processes): a stop met on one rank stops both at one step.

The run goes in a subprocess with a timeout, so a rank left waiting (a hang) is a failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

pytest.importorskip("lightning")
pytestmark = pytest.mark.parity

SCRIPT = os.path.join(os.path.dirname(__file__), "ddp_script.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def run(strategy, out, timeout=240):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, SCRIPT, strategy, str(out)], cwd=out, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"DDP run with {strategy} did not finish in {timeout} s: a rank was left waiting")
    assert proc.returncode == 0, output[-4000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]


@pytest.mark.parametrize("strategy", ["ddp", "ddp_spawn"])
def test_a_stop_on_one_rank_stops_both_at_the_same_step(tmp_path, strategy):
    rank0, rank1 = run(strategy, tmp_path)
    assert rank0["world_size"] == rank1["world_size"] == 2
    assert rank0["global_step"] == rank1["global_step"] == 5
    assert rank0["epoch"] == rank1["epoch"]
    assert rank1["stop_reason"] == "rank 1 saw step 5"
    assert rank0["stop_reason"] == "another rank asked to stop"
    assert rank0["weights"] == rank1["weights"]
    saves = [d for d in rank0["decisions"] if "SaveCheckpoint" in d]
    assert saves == [d for d in rank1["decisions"] if "SaveCheckpoint" in d]
    folder = tmp_path / "logs" / "lightning_logs" / "version_0" / "checkpoints"
    assert sorted(os.listdir(folder)) == ["epoch=0-step=2.ckpt", "epoch=0-step=4.ckpt"]  # written once, by rank zero
    assert sorted(os.listdir(tmp_path / "logs" / "lightning_logs")) == ["version_0"]
    rows = (tmp_path / "logs" / "lightning_logs" / "version_0" / "metrics.csv").read_text().splitlines()
    assert len([r for r in rows[1:] if r]) == 5  # step_seen once per step: logged by rank zero only
