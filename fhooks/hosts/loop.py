"""``fhooks.attach``: hooks in a hand-written training loop.

The loop calls :meth:`LoopHost.emit` at its own moments; the host counts epochs and
optimizer steps from those events (unless the loop passes them), keeps Lightning's
``callback_metrics``, and carries out the effects: ``should_stop`` turns True on a
``Stop``, checkpoints hold the module, the optimizers and the hooks' state and are
written atomically into ``dirpath``, ``Log`` goes to ``logger``.

>>> import torch
>>> from fhooks import attach, Stop, lambda_hook
>>> model = torch.nn.Linear(1, 1)
>>> host = attach(lambda_hook(on_validation_end=lambda e: Stop("good enough") if e.metrics["val_loss"] < 0.5 else None),
...               model)
>>> for epoch in range(10):
...     host.emit("train_epoch_start")
...     host.emit("validation_end", metrics={"val_loss": 1.0 / (epoch + 1)})
...     host.emit("train_epoch_end")
...     if host.should_stop:
...         break
>>> epoch, host.stop_reason
(2, 'good enough')
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fhooks.core.events import Event, RunInfo, check_kind
from fhooks.core.frozendict import frozendict
from fhooks.core.hook import HookLike
from fhooks.errors import InvalidArgument
from fhooks.hosts.info import existing_checkpoints, optimizer_infos, scheduler_infos
from fhooks.interpret.decisions import Decision
from fhooks.interpret.registry import module_device, resolve
from fhooks.interpret.runner import Runner, as_expression, load_handlers

_RUN_INFO_KINDS = frozenset({"setup", "fit_start"})


def _number(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _rank_and_world() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class LoopHost:
    """A hand-written loop as a host: ``emit`` events, read ``should_stop``; see :func:`attach`."""

    def __init__(self, hook: HookLike | Iterable[HookLike], module: Any = None, optimizers: Any = (),
                 dirpath: str | os.PathLike[str] | None = None, logger: Any = None) -> None:
        load_handlers()
        self.runner = Runner(as_expression(hook, "attach"), self)
        self.module = module
        self.optimizers = [optimizers] if hasattr(optimizers, "param_groups") else list(optimizers)
        self.lr_scheduler_configs: list[Any] = []
        self.extra_state: dict[str, Any] = {}
        self.accumulate_grad_batches = 1
        self.global_rank, self.world_size = _rank_and_world()
        self.dirpath = Path(os.path.abspath(os.fspath(dirpath if dirpath is not None else "checkpoints")))
        if logger is not None and not callable(getattr(logger, "log_metrics", None)):
            raise InvalidArgument(f"attach: logger={logger!r} has no log_metrics method; pass a logger "
                                  "(e.g. fhooks.loggers.CSVLogger(...)) or None")
        self.loggers = [] if logger is None else [logger]
        self.current_epoch = 0
        self.global_step = 0
        self.callback_metrics: dict[str, Any] = {}
        self.logged_metrics: dict[str, Any] = {}
        self.stop_reasons: list[str] = []
        self.epoch_ending = False
        self.agreed = False
        self.written: list[Path] = []
        self.started = time.monotonic()

    # -- what the loop calls ----------------------------------------------------------------------
    def emit(self, kind: str, *, batch_idx: int = 0, metrics: Mapping[str, Any] | None = None,
             epoch: int | None = None, step: int | None = None, stage: str = "fit", data: Any = None) -> None:
        """Tell the hooks that ``kind`` happened; counters advance at ``train_batch_end`` and ``train_epoch_end``.

        ``metrics`` join ``callback_metrics`` (tensors become numbers); ``epoch``/``step``
        override the host's counts. ``setup``/``fit_start`` carry a :class:`RunInfo` unless ``data`` is given.
        """
        check_kind(kind, "emit")
        if epoch is not None:
            self.current_epoch = epoch
        if step is not None:
            self.global_step = step
        elif kind == "train_batch_end" and stage == "fit" and (batch_idx + 1) % self.accumulate_grad_batches == 0:
            self.global_step += 1
        if metrics:
            self.callback_metrics.update({k: _number(v) for k, v in metrics.items()})
        if data is None and kind in _RUN_INFO_KINDS:
            data = self.run_info()
        epoch_end = kind == "train_epoch_end" and stage == "fit"
        self.epoch_ending = epoch_end
        try:
            self.runner.step(Event(kind, stage, self.current_epoch, self.global_step, batch_idx, self.clock(),
                                   frozendict(self.callback_metrics), data, self.global_rank))
        finally:
            self.epoch_ending = False
        if epoch_end:
            self.current_epoch += 1

    def clock(self) -> float:
        """Seconds since the host was made."""
        return time.monotonic() - self.started

    def run_info(self) -> RunInfo:
        """What hooks learn at ``setup``/``fit_start``: the checkpoint folder, the optimizers, the files there."""
        return RunInfo(world_size=self.world_size, checkpoint_dir=str(self.dirpath),
                       optimizers=optimizer_infos(self.optimizers),
                       schedulers=scheduler_infos(self.lr_scheduler_configs, self.optimizers),
                       accumulate_grad_batches=self.accumulate_grad_batches,
                       existing_checkpoints=self._foreign_checkpoints())

    def _foreign_checkpoints(self) -> tuple[str, ...]:
        """The files in the checkpoint folders that this run (and the runs it resumes) did not write."""
        own = {os.path.realpath(p) for p in self.written}
        return tuple(p for p in existing_checkpoints(self.runner.hook, self.dirpath) if os.path.realpath(p) not in own)

    # -- what the loop reads ----------------------------------------------------------------------
    @property
    def should_stop(self) -> bool:
        """Whether a hook asked to stop; under ``torch.distributed``, whether one did on any rank.

        With several ranks, reading it is a collective (one all-reduce): read it at the same
        moments on every rank, and every rank stops at the same step.
        """
        asked = bool(self.stop_reasons)
        if self.world_size == 1 or self.agreed:
            return asked
        import torch
        import torch.distributed as dist

        flag = torch.tensor([int(asked)], device=module_device(self, self.module))
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        if flag.item() and not asked:
            self.stop_reasons.append("another rank asked to stop")
        self.agreed = bool(flag.item())
        return self.agreed

    @property
    def stop_reason(self) -> str | None:
        """The reasons of every stop request, joined, or None."""
        return "; ".join(self.stop_reasons) if self.stop_reasons else None

    @property
    def decisions(self) -> list[Decision]:
        """Every recorded effect carried out so far, with the moment it came from."""
        return self.runner.decisions

    @property
    def checkpoint_dir(self) -> Path:
        """``dirpath``, made absolute when the host was made."""
        return self.dirpath

    def state_dict(self) -> dict[str, Any]:
        """The hooks' state and the host's counters, as plain data (for the loop's own checkpoints).

        Taken during ``train_epoch_end``, ``epoch`` is the next one: a resumed loop starts there.
        """
        return {"hooks": self.runner.state_dict(), "epoch": self.current_epoch + self.epoch_ending, "global_step": self.global_step,
                "callback_metrics": dict(self.callback_metrics), "stop_reasons": list(self.stop_reasons),
                "extra_state": dict(self.extra_state), "written": [str(p) for p in self.written]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`state_dict` data; an expression of another shape is refused."""
        self.runner.load_state_dict(state["hooks"])
        self.current_epoch, self.global_step = int(state["epoch"]), int(state["global_step"])
        self.callback_metrics = dict(state.get("callback_metrics", {}))
        self.stop_reasons = list(state.get("stop_reasons", []))
        self.extra_state.update(state.get("extra_state", {}))
        self.written = [Path(p) for p in state.get("written", [])]

    # -- effect targets (the host protocol) ------------------------------------------------------------
    def request_stop(self, reason: str) -> None:
        """What ``Stop`` does: ``should_stop`` becomes True."""
        self.stop_reasons.append(reason)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """What ``Log`` does: ``logged_metrics`` and the logger (at the global step when ``step`` is None)."""
        values = {k: _number(v) for k, v in metrics.items()}
        self.logged_metrics.update(values)
        if self.global_rank != 0:
            return
        for logger in self.loggers:
            logger.log_metrics(values, self.global_step if step is None else step)
            save = getattr(logger, "save", None)
            if callable(save):
                save()

    def save_checkpoint(self, path: str | os.PathLike[str], weights_only: bool = False) -> Path:
        """Write the module, the optimizers and :meth:`state_dict` to ``path`` atomically (rank zero only)."""
        from fhooks.trainer.checkpoint import FORMAT, write_atomic

        target = resolve(path, self.dirpath)
        module_state = self.module.state_dict() if self.module is not None else {}
        checkpoint: dict[str, Any] = {"format": FORMAT, "epoch": self.current_epoch, "global_step": self.global_step,
                                      "state_dict": module_state}
        self.written.append(target)  # in the ledger the checkpoint itself carries
        try:
            if not weights_only:
                checkpoint["optimizer_states"] = [o.state_dict() for o in self.optimizers]
                checkpoint["host"] = self.state_dict()
                self.runner.step(Event("save_checkpoint", "fit", self.current_epoch, self.global_step, 0, self.clock(),
                                       frozendict(self.callback_metrics), checkpoint, self.global_rank))
            if self.global_rank == 0:
                write_atomic(checkpoint, target)
        except BaseException:
            self.written.remove(target)
            raise
        return target

    def remove_checkpoint(self, path: str | os.PathLike[str], even_if_resumed: bool = False) -> None:
        """Delete a checkpoint this run wrote (before or after a resume); any other file is left alone."""
        target = resolve(path, self.dirpath)
        if target in self.written and self.global_rank == 0:
            self.written.remove(target)
            target.unlink(missing_ok=True)

    def link_checkpoint(self, path: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        """Point ``path`` at ``target`` atomically (``save_last="link"``), rank zero only."""
        from fhooks.trainer.checkpoint_links import link_checkpoint

        if self.global_rank == 0:
            link_checkpoint(resolve(path, self.dirpath), resolve(target, self.dirpath))


def attach(hook: HookLike | Iterable[HookLike], module: Any = None, optimizers: Any = (),
           dirpath: str | os.PathLike[str] | None = None, logger: Any = None) -> LoopHost:
    """Run ``hook`` (a hook or a list of hooks) in a hand-written loop; returns the :class:`LoopHost` to emit to.

    ``module`` and ``optimizers`` are what checkpoints save and model effects act on;
    ``dirpath`` (default ``"checkpoints"``) is where relative checkpoint paths go;
    ``logger`` receives ``Log`` effects. The loop reads ``host.should_stop`` and, to honour
    ``SetAccumulation``, ``host.accumulate_grad_batches``.

    >>> from fhooks import attach, every_n, lambda_hook, Log
    >>> host = attach(every_n(2, lambda_hook(on_train_batch_end=lambda e: Log({"loss": e.metrics["loss"]}))))
    >>> for i in range(4):
    ...     host.emit("train_batch_end", batch_idx=i, metrics={"loss": 1.0 / (i + 1)})
    >>> host.global_step, host.logged_metrics
    (4, {'loss': 0.25})

    Raises:
        InvalidArgument: ``hook`` is not a hook or a list of hooks, or ``logger`` has no ``log_metrics``.
    """
    return LoopHost(hook, module, optimizers, dirpath, logger)
