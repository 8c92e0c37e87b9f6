"""Starting the other processes of a run: the script again in subprocesses (``"ddp"``) or ``torch.multiprocessing``
(``"ddp_spawn"``).

``"ddp"`` started alone re-runs the script the user ran (``python train.py ...`` or ``python -m pkg ...``), once per
other local rank, with the environment variables that tell each copy its place; the copies reach
``Trainer.fit`` too and join the same process group. ``"ddp_spawn"`` pickles the trainer and the call and runs it in
fresh processes; rank zero's weights and counters come back to the caller's objects.
"""

from __future__ import annotations

import atexit
import copy
import os
import subprocess
import sys
import tempfile
from typing import Any

from fhooks.trainer.strategies.environment import LAUNCHED, free_port, master_address


def world_variables(local_rank: int, node_rank: int, devices: int, world_size: int, addr: str,
                    port: int) -> dict[str, str]:
    """The variables one launched process reads (see :func:`fhooks.trainer.strategies.environment.detect`).

    >>> world_variables(1, 0, 2, 2, "127.0.0.1", 1234)["LOCAL_RANK"]
    '1'
    """
    return {LAUNCHED: "1", "LOCAL_RANK": str(local_rank), "NODE_RANK": str(node_rank), "NODE_DEVICES": str(devices),
            "WORLD_SIZE": str(world_size), "MASTER_ADDR": addr, "MASTER_PORT": str(port)}


def script_command() -> list[str]:
    """How this process was started, to start it again: ``python -m module args`` or ``python script args``."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name not in ("__main__", None):
        name = spec.name.removesuffix(".__main__")
        return [sys.executable, "-m", name, *sys.argv[1:]]
    if not getattr(main, "__file__", None):
        raise RuntimeError("Trainer(strategy='ddp') started from an interactive session cannot re-run its script; "
                           "run a script, use torchrun, or pass strategy='ddp_spawn'")
    return [sys.executable, os.path.abspath(sys.argv[0]), *sys.argv[1:]]


def launch_script_copies(devices: int, num_nodes: int) -> list[subprocess.Popen[bytes]]:
    """Start local ranks 1..devices-1 of this node as copies of the script; this process becomes local rank 0."""
    node_rank = int(os.environ.get("NODE_RANK", "0"))
    addr, port = master_address()
    if num_nodes > 1 and "MASTER_ADDR" not in os.environ:
        raise RuntimeError(f"Trainer(num_nodes={num_nodes}) launched by hand: set MASTER_ADDR, MASTER_PORT and "
                           "NODE_RANK on every node (or use torchrun / SLURM)")
    port = port or free_port()
    world_size = devices * num_nodes
    os.environ.update(world_variables(0, node_rank, devices, world_size, addr, port))
    command = script_command()
    children = []
    for local_rank in range(1, devices):
        env = {**os.environ, **world_variables(local_rank, node_rank, devices, world_size, addr, port)}
        children.append(subprocess.Popen(command, env=env, cwd=os.getcwd()))
    return children


def wait_at_exit(children: list[subprocess.Popen[bytes]], timeout: float) -> None:
    """When this process exits, wait for the launched copies (they run the rest of the script too), killing one
    that outlives ``timeout``; a copy that failed is reported on stderr."""
    def wait() -> None:
        for child in children:
            try:
                code = child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                code = f"killed: still running {timeout:.0f}s after rank 0 ended"
            if code != 0:
                print(f"fhooks: launched DDP process {child.pid} exited with {code}", file=sys.stderr, flush=True)

    atexit.register(wait)


def _spawned(local_rank: int, trainer: Any, method: str, args: tuple[Any, ...], variables: dict[str, str],
             result_path: str) -> None:
    """One process of ``ddp_spawn``: join the world, run the call; rank zero saves what goes back to the caller."""
    import torch

    from fhooks.trainer.strategies.environment import detect

    os.environ.update({**variables, "LOCAL_RANK": str(local_rank)})
    trainer.strategy.found = detect()  # the pickled strategy was made before this process had a place
    module = copy.deepcopy(args[0])  # the tensors came in shared memory: each process trains its own copy
    value = getattr(trainer, method)(module, *args[1:])
    if trainer.global_rank == 0:
        torch.save({"state_dict": module.state_dict(), "value": value, "global_step": trainer.global_step,
                    "current_epoch": trainer.current_epoch, "stop_reasons": list(trainer.stop_reasons),
                    "should_stop": trainer.should_stop,
                    "callback_metrics": dict(trainer.callback_metrics)}, result_path)


def spawn(trainer: Any, method: str, args: tuple[Any, ...], devices: int, num_nodes: int) -> Any:
    """Run ``trainer.<method>(*args)`` in ``devices`` spawned processes; back here: rank zero's weights, counters,
    metrics and return value (``args[0]`` is the module)."""
    import torch
    import torch.multiprocessing as mp

    addr, port = master_address()
    variables = world_variables(0, int(os.environ.get("NODE_RANK", "0")), devices, devices * num_nodes, addr,
                                port or free_port())
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "rank0.pt")
        mp.start_processes(_spawned, args=(trainer, method, args, variables, path), nprocs=devices,
                           start_method="spawn")
        result = torch.load(path, weights_only=False)  # written by this run's own rank zero a moment ago
    args[0].load_state_dict(result["state_dict"])
    trainer.global_step, trainer.current_epoch = result["global_step"], result["current_epoch"]
    trainer.should_stop, trainer.stop_reasons = result["should_stop"], result["stop_reasons"]
    trainer.callback_metrics = result["callback_metrics"]
    return result["value"]
