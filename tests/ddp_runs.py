"""Running ``trainer_ddp_script.py`` in a subprocess with a timeout, so a rank left waiting is a failure, not a hang."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent
SCRIPT = HERE / "trainer_ddp_script.py"


def run_command(command: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """``command`` in ``cwd`` (this checkout's fhooks first on the path); killed with its children at ``timeout``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "GROUP_RANK", "FHOOKS_LAUNCHED", "MASTER_PORT", "SLURM_NTASKS",
                 "PL_GLOBAL_SEED"):  # a seed_everything earlier in this worker would change the samplers' seed
        env.pop(name, None)
    proc = subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"{' '.join(command)} did not finish in {timeout} s (a rank left waiting?):\n{output[-3000:]}")
    return subprocess.CompletedProcess(command, proc.returncode, output)


def run_script(mode: str, folder: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """``trainer_ddp_script.py MODE folder`` run in ``folder``."""
    return run_command([sys.executable, str(SCRIPT), mode, str(folder)], folder, timeout)


def rank_reports(folder: Path, mode: str) -> list[dict]:
    return [json.loads((folder / f"{mode}-rank{r}.json").read_text()) for r in (0, 1)]
