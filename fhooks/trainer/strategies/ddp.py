"""Data-parallel training on ``torch.distributed``: one process per device, gradients averaged by
``DistributedDataParallel``, each rank reading its share of the data.

Every rank runs the same loop. What could differ by rank is agreed at fixed points with one reduction (a stop
asked on any rank stops all at the same batch); files, loggers and displays are rank zero's.

>>> DDPStrategy(find_unused_parameters=True)
DDPStrategy(find_unused_parameters=True, static_graph=False, timeout=1800.0s, start_method='script')
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from fhooks.errors import DistributedError, InvalidArgument
from fhooks.trainer.strategies import launcher, sampler
from fhooks.trainer.strategies.environment import World, detect

_OPS = {"sum": "SUM", "max": "MAX", "min": "MIN"}


class _TrainingStep(torch.nn.Module):
    """What DistributedDataParallel wraps: its forward is the module's ``training_step`` (so the gradients of
    everything the step used are averaged across ranks)."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, batch: Any, batch_idx: int) -> Any:
        return self.module.training_step(batch, batch_idx)


class DDPStrategy:
    """``strategy="ddp"`` with options: what ``DistributedDataParallel`` is told, the process group's timeout (a
    rank that dies or stops answering makes the others fail after it), and how the processes start
    (``"script"``: the script again in subprocesses; ``"spawn"``: ``torch.multiprocessing``).

    >>> from fhooks import Trainer
    >>> trainer = Trainer(accelerator="cpu", devices=2, strategy=DDPStrategy(static_graph=True, timeout=60))
    >>> trainer.strategy.static_graph, trainer.world_size, trainer.strategy.backend
    (True, 2, 'gloo')
    """

    strategy_name = "ddp"

    def __init__(self, find_unused_parameters: bool = False, static_graph: bool = False,
                 timeout: timedelta | float = timedelta(minutes=30), start_method: str = "script",
                 process_group_backend: str | None = None, **ddp_kwargs: Any) -> None:
        if start_method not in ("script", "spawn"):
            raise InvalidArgument(f"DDPStrategy: start_method={start_method!r}; accepted: 'script', 'spawn'")
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
            raise InvalidArgument(f"DDPStrategy: timeout={timeout!r}; accepted: a positive timedelta or seconds")
        self.find_unused_parameters = bool(find_unused_parameters)
        self.static_graph = bool(static_graph)
        self.timeout = timedelta(seconds=float(seconds))
        self.start_method = start_method
        self.process_group_backend = process_group_backend
        self.ddp_kwargs = ddp_kwargs
        self.accelerator, self.num_devices, self.num_nodes, self.device_ids = "cpu", 1, 1, [0]
        self.sync_batchnorm = False
        self.use_distributed_sampler = True
        self.found: World | None = detect()
        self.wrapped: Any = None
        self._owns_group = False

    def __repr__(self) -> str:
        return (f"DDPStrategy(find_unused_parameters={self.find_unused_parameters}, static_graph={self.static_graph}, "
                f"timeout={self.timeout.total_seconds()}s, start_method={self.start_method!r})")

    def configure(self, accelerator: str, device_ids: list[int], num_nodes: int, sync_batchnorm: bool,
                  use_distributed_sampler: bool) -> None:
        """What the trainer chose: the device type, this node's devices, the node count, the options."""
        self.accelerator, self.device_ids, self.num_nodes = accelerator, device_ids, num_nodes
        self.num_devices = len(device_ids)
        self.sync_batchnorm, self.use_distributed_sampler = sync_batchnorm, use_distributed_sampler
        if sync_batchnorm and accelerator != "cuda":
            raise InvalidArgument(f"Trainer(sync_batchnorm=True, accelerator={accelerator!r}): torch's SyncBatchNorm "
                                  "runs on CUDA only; pass accelerator='cuda' or sync_batchnorm=False")
        if self.found is not None and self.found.world_size != self.num_devices * num_nodes:
            raise InvalidArgument(
                f"Trainer(devices={self.num_devices}, num_nodes={num_nodes}) makes {self.num_devices * num_nodes} "
                f"processes, but {self.found.source} started {self.found.world_size}; pass devices and num_nodes "
                "that match the launcher (e.g. torchrun --nproc_per_node=N with devices=N)")

    # -- the world --------------------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """``nccl`` on CUDA, ``gloo`` on CPU (unless ``process_group_backend`` says otherwise)."""
        return self.process_group_backend or ("nccl" if self.accelerator == "cuda" else "gloo")

    @property
    def world_size(self) -> int:
        return self.num_devices * self.num_nodes

    @property
    def global_rank(self) -> int:
        return self.found.global_rank if self.found else 0

    @property
    def local_rank(self) -> int:
        return self.found.local_rank if self.found else 0

    @property
    def node_rank(self) -> int:
        return self.found.node_rank if self.found else int(os.environ.get("NODE_RANK", "0"))

    @property
    def spawning(self) -> bool:
        """Whether a call must first start the processes with ``torch.multiprocessing`` (``ddp_spawn``)."""
        return self.start_method == "spawn" and self.found is None and self.world_size > 1

    def spawn(self, trainer: Any, method: str, *args: Any) -> Any:
        """Run ``trainer.<method>(*args)`` in spawned processes; rank zero's results come back here."""
        return launcher.spawn(trainer, method, args, self.num_devices, self.num_nodes)

    @contextlib.contextmanager
    def world(self, trainer: Any) -> Iterator[None]:
        """The process group for the length of one run: the other processes launched (or the world found by
        torchrun/SLURM joined), the trainer told its ranks and device, the group destroyed at the end."""
        if self.found is None:
            launcher.wait_at_exit(launcher.launch_script_copies(self.num_devices, self.num_nodes),
                                  self.timeout.total_seconds())
            self.found = detect()
        self._tell(trainer)
        if not dist.is_initialized():
            dist.init_process_group(self.backend, init_method=_rendezvous(self.found), rank=self.global_rank,
                                    world_size=self.world_size, timeout=self.timeout)
            self._owns_group = True
        try:
            yield
            if self._owns_group:
                dist.barrier()  # nobody tears the group down while another rank still uses it
        except Exception as exc:
            if _is_peer_failure(exc):
                raise DistributedError(f"rank {self.global_rank}: another process of the DDP run failed or did not "
                                       f"answer within the timeout ({self.timeout.total_seconds():.0f}s): {exc}") from exc
            raise
        finally:
            self.wrapped = None
            if self._owns_group and dist.is_initialized():
                dist.destroy_process_group()
                self._owns_group = False

    def _tell(self, trainer: Any) -> None:
        trainer.global_rank, trainer.world_size = self.global_rank, self.world_size
        trainer.local_rank, trainer.node_rank = self.local_rank, self.node_rank
        if self.accelerator == "cuda":
            index = self.device_ids[self.local_rank]
            torch.cuda.set_device(index)
            trainer.device = torch.device("cuda", index)

    # -- the module and the data --------------------------------------------------------------------
    def setup_module(self, trainer: Any, module: torch.nn.Module) -> None:
        """Convert batch norms when ``sync_batchnorm``; wrap the training step in DistributedDataParallel (which
        starts every rank from rank zero's weights)."""
        if self.sync_batchnorm:
            converted = torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
            if converted is not module:
                raise InvalidArgument("Trainer(sync_batchnorm=True): the module itself is a batch norm; wrap it in a "
                                      "Module")
        device_ids = [trainer.device.index] if trainer.device.type == "cuda" else None
        self.wrapped = torch.nn.parallel.DistributedDataParallel(
            _TrainingStep(module), device_ids=device_ids, find_unused_parameters=self.find_unused_parameters,
            static_graph=self.static_graph, **self.ddp_kwargs)

    def training_step(self, module: Any, batch: Any, batch_idx: int) -> Any:
        """``training_step`` through DistributedDataParallel (directly when no module was wrapped)."""
        if self.wrapped is None or self.wrapped.module.module is not module:
            return module.training_step(batch, batch_idx)
        return self.wrapped(batch, batch_idx)

    def prepare_loader(self, loader: Any, training: bool) -> Any:
        """This rank's share of ``loader`` (see :mod:`fhooks.trainer.strategies.sampler`)."""
        if not self.use_distributed_sampler:
            return loader
        return sampler.distributed_loader(loader, training, self.world_size, self.global_rank)

    def set_epoch(self, loader: Any, epoch: int) -> None:
        sampler.set_epoch(loader, epoch)

    # -- agreeing ---------------------------------------------------------------------------------------
    def _device(self) -> torch.device:
        return torch.device("cuda", torch.cuda.current_device()) if self.backend == "nccl" else torch.device("cpu")

    def reduce_any(self, flag: bool) -> bool:
        """Whether ``flag`` holds on any rank (one all-reduce)."""
        tensor = torch.tensor([int(flag)], device=self._device())
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return bool(tensor.item())

    def reduce(self, value: torch.Tensor, op: str) -> torch.Tensor:
        """``value`` reduced across ranks with ``op`` (``"sum"``, ``"max"``, ``"min"``); a new tensor."""
        out = value.detach().clone().to(self._device())
        dist.all_reduce(out, op=getattr(dist.ReduceOp, _OPS[op]))
        return out.to(value.device)

    def broadcast(self, obj: Any) -> Any:
        """Rank zero's ``obj`` on every rank."""
        box = [obj]
        dist.broadcast_object_list(box, src=0, device=self._device() if self.backend == "nccl" else None)
        return box[0]

    def barrier(self) -> None:
        dist.barrier()


#: How many process groups this process has made with fhooks' launcher (the same count on every rank).
_GROUPS_MADE = [0]


def _rendezvous(world: World | None) -> str:
    """Where the ranks meet: ``env://`` (torchrun, SLURM); under fhooks' launcher, each new process group of the
    script (a second ``fit``...) one port up from the last, so no rank reaches the store of a group being torn down."""
    if world is None or world.source != "fhooks":
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        return "env://"
    port = int(os.environ["MASTER_PORT"]) + _GROUPS_MADE[0]
    _GROUPS_MADE[0] += 1
    return f"tcp://{os.environ['MASTER_ADDR']}:{port}"


def _is_peer_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is torch.distributed telling that a peer failed or timed out."""
    if isinstance(exc, getattr(dist, "DistError", ())):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(
        mark in text for mark in ("Connection closed by peer", "Connection reset", "Gloo", "NCCL", "timed out",
                                  "Timed out"))
