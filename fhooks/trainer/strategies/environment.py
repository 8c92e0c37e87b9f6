"""The world a process finds itself in: torchrun/TorchElastic, SLURM, or fhooks' own launcher, from environment variables.

>>> env = {"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "GROUP_RANK": "1", "LOCAL_WORLD_SIZE": "2",
...        "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"}
>>> detect(env)
World(global_rank=3, local_rank=1, node_rank=1, world_size=4, source='torchelastic')
>>> detect({}) is None
True
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import NamedTuple

#: The variables fhooks' launcher sets for the processes it starts (Lightning's names).
LAUNCHED = "FHOOKS_LAUNCHED"


class World(NamedTuple):
    """One process's place: its global rank, its rank on its node, its node, how many processes in all."""

    global_rank: int
    local_rank: int
    node_rank: int
    world_size: int
    source: str


def _int(env: Mapping[str, str], name: str) -> int:
    return int(env[name])


def detect(env: Mapping[str, str] | None = None) -> World | None:
    """The world the environment describes, or None when this process was started alone.

    Checked in order: TorchElastic/torchrun (``RANK``, ``LOCAL_RANK``, ``GROUP_RANK``, ``WORLD_SIZE``),
    fhooks' own launcher (``FHOOKS_LAUNCHED``, ``LOCAL_RANK``, ``NODE_RANK``, ``WORLD_SIZE``, ``NODE_DEVICES``), SLURM
    (``SLURM_NTASKS``, ``SLURM_PROCID``, ``SLURM_LOCALID``, ``SLURM_NODEID``; not in an interactive job).
    """
    env = os.environ if env is None else env
    if all(k in env for k in ("RANK", "LOCAL_RANK", "GROUP_RANK", "WORLD_SIZE")):
        return World(_int(env, "RANK"), _int(env, "LOCAL_RANK"), _int(env, "GROUP_RANK"), _int(env, "WORLD_SIZE"),
                     "torchelastic")
    if LAUNCHED in env:
        local, node, per_node = _int(env, "LOCAL_RANK"), _int(env, "NODE_RANK"), _int(env, "NODE_DEVICES")
        return World(node * per_node + local, local, node, _int(env, "WORLD_SIZE"), "fhooks")
    if "SLURM_NTASKS" in env and "SLURM_PROCID" in env and env.get("SLURM_JOB_NAME") not in ("bash", "interactive"):
        return World(_int(env, "SLURM_PROCID"), int(env.get("SLURM_LOCALID", 0)), int(env.get("SLURM_NODEID", 0)),
                     _int(env, "SLURM_NTASKS"), "slurm")
    return None


def local_world_size(env: Mapping[str, str] | None = None) -> int | None:
    """How many processes this node runs, when the environment says (torchrun, SLURM), else None."""
    env = os.environ if env is None else env
    for name in ("LOCAL_WORLD_SIZE", "NODE_DEVICES", "SLURM_NTASKS_PER_NODE"):
        value = env.get(name, "")
        if value.isdigit():
            return int(value)
    return None


def master_address(env: Mapping[str, str] | None = None) -> tuple[str, int]:
    """``(MASTER_ADDR, MASTER_PORT)``: from the environment; under SLURM without them, the job's first node and a
    port derived from the job id (as every rank of the job computes the same)."""
    env = os.environ if env is None else env
    addr = env.get("MASTER_ADDR")
    if addr is None and "SLURM_NODELIST" in env:
        addr = first_host(env["SLURM_NODELIST"])
    port = env.get("MASTER_PORT")
    if port is None and "SLURM_JOB_ID" in env:
        port = str(15000 + int(env["SLURM_JOB_ID"][-4:]))
    return addr or "127.0.0.1", int(port or 0)


def first_host(nodelist: str) -> str:
    """The first host of a SLURM node list.

    >>> first_host("node[07-09,12],other"), first_host("gpu1,gpu2"), first_host("host")
    ('node07', 'gpu1', 'host')
    """
    head = nodelist.split(",")[0] if "[" not in nodelist.split(",")[0] else nodelist.split("]")[0] + "]"
    if "[" not in head:
        return head
    prefix, ranges = head.split("[", 1)
    return prefix + ranges.rstrip("]").split(",")[0].split("-")[0]


def free_port() -> int:
    """A TCP port free on this machine right now (the launcher's rendezvous port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
